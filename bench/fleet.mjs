export async function runFleetBench() {
  return { skipped: ["not written yet"] };
}
