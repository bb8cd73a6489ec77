// The graphql-http audit: the GraphQL over HTTP spec's server requirements
// (MUST: error, SHOULD: warn, MAY: notice), run against a running server.
//
//   make audit-http URL=http://127.0.0.1:8000/t/west-nipt/graphql
//
// Prints one line per audit and a summary; exits 1 when a MUST fails.
import { auditServer } from 'graphql-http';

const url = process.argv[2] ?? 'http://127.0.0.1:8000/t/west-nipt/graphql';
let results;
try {
  results = await auditServer({ url });
} catch (error) {
  console.error(`cannot audit ${url}: ${error.cause?.message ?? error.message}; is the server running?`);
  process.exit(2);
}
const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const result of results) {
  counts[result.status] += 1;
  const reason = result.status === 'ok' ? '' : ` -- ${result.reason}`;
  console.log(`${result.status.padEnd(6)} ${result.id} ${result.name}${reason}`);
}
console.log(
  `\n${url}: ${counts.ok} ok, ${counts.error} MUST failed, ` +
    `${counts.warn} SHOULD failed, ${counts.notice} MAY not done`,
);
process.exit(counts.error > 0 ? 1 : 0);
