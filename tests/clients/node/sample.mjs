// The guide's Node.js sample (node-postgres with an @aws-sdk/dsql-signer token), with the local
// cluster's port, CA and a table of its own. Run by tests/clients/test_node.py.
import { DsqlSigner } from "@aws-sdk/dsql-signer";
import pg from "pg";
import assert from "node:assert";
import fs from "node:fs";
const { Client } = pg;

async function example(clusterEndpoint, port, region, ca) {
  let client;
  try {
    const signer = new DsqlSigner({ hostname: clusterEndpoint, region });
    const token = await signer.getDbConnectAdminAuthToken();
    client = new Client({
      host: clusterEndpoint,
      user: "admin",
      password: token,
      database: "postgres",
      port,
      ssl: { ca: fs.readFileSync(ca) },
    });
    await client.connect();
    await client.query(`CREATE TABLE IF NOT EXISTS owner_node (
      id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
      name VARCHAR(30) NOT NULL,
      city VARCHAR(80) NOT NULL,
      telephone VARCHAR(20)
    )`);
    await client.query("INSERT INTO owner_node(name, city, telephone) VALUES($1, $2, $3)",
      ["John Doe", "Anytown", "555-555-1900"]);
    const result = await client.query("SELECT id, city FROM owner_node where name='John Doe'");
    assert.deepEqual(result.rows[0].city, "Anytown");
    assert.notEqual(result.rows[0].id, null);
    // A transaction that rolls back and one that commits (node-postgres sends BEGIN/COMMIT).
    await client.query("BEGIN");
    await client.query("INSERT INTO owner_node(name, city) VALUES('Gone', 'Nowhere')");
    await client.query("ROLLBACK");
    const n = await client.query("SELECT count(*)::int AS n FROM owner_node");
    assert.equal(n.rows[0].n, 1);
    await client.query("DELETE FROM owner_node where name='John Doe'");
    console.log("ok");
  } finally {
    await client?.end();
  }
}

const [host, port, region, ca] = process.argv.slice(2);
await example(host, Number(port), region, ca);
