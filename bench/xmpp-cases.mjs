// XMPP cases for the bench; filled in once the XMPP transport lands.
export async function xmppCases() {
  throw new Error("XMPP transport not benchmarked yet");
}
