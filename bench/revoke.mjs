export async function runRevokeBench() {
  return { skipped: "not written yet" };
}
