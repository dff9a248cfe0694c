// Reading --ca-file (or a context's ca_file): the one reader and its one size limit, for the
// login (open.ts) and for doctor's certificate probe (doctor/xmpp.ts).
import { X509Certificate } from "node:crypto";
import { CamError } from "../../core/errors.js";
import { msg } from "../../text/untrusted.js";
import { readUserFile } from "./user-file.js";

/** Larger than this, it is not a CA file (a whole system bundle is a few hundred KiB). */
const MAX_CA_FILE_BYTES = 16 * 1024 * 1024;

/** The certificates of a --ca-file, each checked: a damaged one is refused, never silently skipped. */
export async function readCaFile(file: string): Promise<string[]> {
  let pem: string;
  try {
    pem = await readUserFile(file, MAX_CA_FILE_BYTES);
  } catch (e) {
    throw new CamError("usage", msg`Cannot read --ca-file ${file}: ${(e as Error).message}.`);
  }
  const begins = pem.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g) ?? [];
  if (begins === 0) {
    throw new CamError("usage", msg`--ca-file ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----).`);
  }
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch {
      throw new CamError("usage", msg`--ca-file ${file} is damaged: certificate ${i + 1} of ${begins} cannot be read. Export the CA certificate again.`);
    }
  });
  if (blocks.length !== begins) {
    throw new CamError("usage", msg`--ca-file ${file} is damaged: a certificate has no END line. Export the CA certificate again.`);
  }
  return blocks;
}
