// `camctl host clients` over the admin socket, Prosody on its internal (file) storage.
import { hostClientsSuite } from "./host-clients-suite.js";

hostClientsSuite("internal");
