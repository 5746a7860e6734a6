// s3rver in its own process for the storage bench, so its memory is not counted as the runner's.
// Prints {"port": N} once listening; stops on SIGTERM. Usage: s3rver-process <dir> <bucket>

import S3rver from "s3rver";

const [directory, bucket] = process.argv.slice(2);
if (directory === undefined || bucket === undefined) throw new Error("Usage: s3rver-process <dir> <bucket>");
const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
const address = await server.run();
process.stdout.write(JSON.stringify({ port: address.port }) + "\n");
process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
