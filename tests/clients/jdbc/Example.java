// The guide's pgJDBC sample, with a token made by boto3 (the AWS SDK for Java is not installable
// here), the local cluster's CA (sslrootcert) and a table of its own. Run by tests/clients/test_jdbc.py.
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.UUID;

public class Example {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    public static void main(String[] args) throws SQLException {
        String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/postgres?sslmode=verify-full&sslrootcert=" + args[2];
        Properties props = new Properties();
        props.setProperty("user", "admin");
        props.setProperty("password", System.getenv("DSQL_TOKEN"));
        try (Connection conn = DriverManager.getConnection(url, props)) {
            Statement create = conn.createStatement();
            create.executeUpdate("CREATE TABLE IF NOT EXISTS owner_jdbc (id UUID PRIMARY KEY, name VARCHAR(255), "
                + "city VARCHAR(255), telephone VARCHAR(255))");
            create.close();
            UUID uuid = UUID.randomUUID();
            Statement insert = conn.createStatement();
            insert.executeUpdate(String.format("INSERT INTO owner_jdbc (id, name, city, telephone) VALUES ('%s', "
                + "'John Doe', 'Anytown', '555-555-1999')", uuid));
            insert.close();
            Statement read = conn.createStatement();
            ResultSet rs = read.executeQuery("SELECT * FROM owner_jdbc");
            int n = 0;
            while (rs.next()) {
                check(rs.getString("id") != null, "id");
                check(rs.getString("name").equals("John Doe"), "name");
                check(rs.getString("city").equals("Anytown"), "city");
                check(rs.getString("telephone").equals("555-555-1999"), "telephone");
                n++;
            }
            check(n == 1, "one row");
            // Server-side prepared statements (after 5 uses pgJDBC switches to named statements and
            // binary transfer), a batch, and a transaction that rolls back.
            PreparedStatement ps = conn.prepareStatement("SELECT ?::int8 * 2, ?::numeric, ?::timestamp");
            for (int i = 0; i < 8; i++) {
                ps.setLong(1, i);
                ps.setBigDecimal(2, new java.math.BigDecimal("1.25"));
                ps.setTimestamp(3, java.sql.Timestamp.valueOf("2024-02-29 12:30:01.5"));
                ResultSet r = ps.executeQuery();
                check(r.next() && r.getLong(1) == 2L * i, "int8");
                check(r.getBigDecimal(2).equals(new java.math.BigDecimal("1.25")), "numeric");
                check(r.getTimestamp(3).equals(java.sql.Timestamp.valueOf("2024-02-29 12:30:01.5")), "timestamp");
            }
            conn.setAutoCommit(false);
            PreparedStatement ins = conn.prepareStatement("INSERT INTO owner_jdbc (id, name, city) VALUES (?, ?, ?)");
            for (int i = 0; i < 3; i++) {
                ins.setObject(1, UUID.randomUUID());
                ins.setString(2, "batch" + i);
                ins.setString(3, "x");
                ins.addBatch();
            }
            ins.executeBatch();
            conn.rollback();
            conn.setAutoCommit(true);
            ResultSet c = conn.createStatement().executeQuery("SELECT count(*) FROM owner_jdbc");
            check(c.next() && c.getInt(1) == 1, "rollback");
            Statement delete = conn.createStatement();
            delete.executeUpdate("DELETE FROM owner_jdbc where name='John Doe'");
            delete.close();
        }
        System.out.println("ok");
    }
}
