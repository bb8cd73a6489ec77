// Runs once, when the mongo service starts on an empty data volume
// (/docker-entrypoint-initdb.d, as the root user, before the replica set exists).
// Creates the API's own login: it may read and write every database (one per
// tenant), create and drop them with their indexes, and see the server's state,
// but it cannot manage users or the replica set (the root login does that).
const user = process.env.MONGO_APP_USERNAME || "app";
const password = process.env.MONGO_APP_PASSWORD;
if (!password) {
  throw new Error("MONGO_APP_PASSWORD is not set; see .env.example");
}
db.getSiblingDB("admin").createUser({
  user: user,
  pwd: password,
  roles: ["readWriteAnyDatabase", "dbAdminAnyDatabase", "clusterMonitor"],
});
print(`created the MongoDB user ${user} for the API`);
