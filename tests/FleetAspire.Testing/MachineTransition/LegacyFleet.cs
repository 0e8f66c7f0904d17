using System.Diagnostics;
using Npgsql;

namespace FleetAspire.Testing;

/// <summary>
/// A legacy fleet of a given size, shaped like production: of N agents 40% hold a pool machine and 10% a custom one;
/// N/5 parked pool machines, N/10 unassigned custom machines, a snapshot per assigned agent and two health checks.
/// With <c>dirty</c>, about one row in a thousand is dirty in each of the backfill's classes; without, every row is clean.
/// </summary>
public static class LegacyFleet
{
    public static async Task SeedAsync(string database, int agents, bool dirty = true)
    {
        if (agents % 10 != 0)
        {
            throw new ArgumentException("agents must be a multiple of 10", nameof(agents));
        }

        var parked = agents / 5;
        var free = agents / 10;
        // Dirty rows are every thousandth (offsets 5–8); a clean fleet switches each such condition off.
        var d = dirty ? string.Empty : "false AND ";
        await Sql.ExecuteAsync(database, $"""
            -- Unique dotted quads from a number: second to fourth octet carry its bits.
            CREATE FUNCTION pg_temp.quad(first int, n bigint) RETURNS text LANGUAGE sql IMMUTABLE AS
                $$ SELECT first || '.' || ((n >> 16) & 255) || '.' || ((n >> 8) & 255) || '.' || (n & 255) $$;

            INSERT INTO agents (id, name, user_id, status, created_at, updated_at, machine_id, machine_ipv4, machine_shared_key, machine_type)
            SELECT 'agt_' || i, 'agent ' || i, 'user_' || (i % 5000), CASE WHEN i % 10 < 5 THEN 'active' ELSE 'idle' END, now(), now(),
                   CASE WHEN {d}i % 1000 = 6 THEN (10000000 + i - 6)::text            -- dirty: a second holder of a provider id
                        WHEN {d}i % 1000 = 5 THEN (10000000 + i)::text                -- dirty: a machine id without a type
                        WHEN i % 10 < 4 THEN (10000000 + i)::text
                        WHEN i % 10 = 4 THEN 'cm_' || i END,
                   CASE WHEN i % 10 < 4 OR {d}i % 1000 IN (5, 6) THEN pg_temp.quad(10, i) WHEN i % 10 = 4 THEN pg_temp.quad(172, i) END,
                   CASE WHEN i % 10 < 5 OR {d}i % 1000 IN (5, 6) THEN 'key-' || md5(i::text) END,
                   CASE WHEN {d}i % 1000 = 5 THEN NULL WHEN i % 10 < 4 OR {d}i % 1000 = 6 THEN 'hetzner' WHEN i % 10 = 4 THEN 'custom' END
            FROM generate_series(1, {agents}) i;

            INSERT INTO custom_machines (id, ipv4, port, shared_key, user_id, current_agent_id, os, arch, cpu_count, memory_gb, created_at, updated_at)
            SELECT 'cm_' || i, pg_temp.quad(172, i), 22, 'key-' || md5(i::text), 'user_' || (i % 5000), 'agt_' || i, 'linux', 'x86_64', 4, 8, now(), now()
            FROM generate_series(1, {agents}) i WHERE i % 10 = 4;
            INSERT INTO custom_machines (id, ipv4, port, shared_key, user_id, current_agent_id, created_at, updated_at)
            SELECT 'cmf_' || j, pg_temp.quad(173, j), 8911, 'key-f-' || md5(j::text), 'user_' || (j % 5000),
                   CASE WHEN {d}j % 1000 = 8 THEN 'agt_gone_' || j END,               -- dirty: a current agent that does not exist
                   now(), now()
            FROM generate_series(1, {free}) j;

            INSERT INTO parked_machines (id, machine_id, machine_name, ipv4, status, shared_key, created_at, updated_at)
            SELECT 'pm_' || j, (20000000 + j)::text, 'pool-' || j,
                   CASE WHEN {d}j % 1000 = 7 THEN '11.0.0.999' ELSE pg_temp.quad(11, j) END,  -- dirty: not a dotted quad
                   CASE WHEN j % 10 = 0 THEN 'launching' ELSE 'ready' END, 'key-p-' || md5(j::text), now(), now()
            FROM generate_series(1, {parked}) j;

            INSERT INTO machine_snapshots (id, machine_id, status, created_at, user_id, is_final)
            SELECT 'snap_' || id, machine_id, 'available', now(), user_id, false FROM agents WHERE machine_id IS NOT NULL;
            INSERT INTO machine_snapshots (id, machine_id, status, created_at, user_id, is_final)
            SELECT 'snap_orphan_' || j, 'gone-' || j, 'available', now(), 'user_0', false       -- dirty: matches no machine
            FROM generate_series(1, CASE WHEN {(dirty ? "true" : "false")} THEN greatest({agents} / 1000, 1) ELSE 0 END) j;

            INSERT INTO machine_health_checks (agent_id, machine_id, outcome, checked_at)
            SELECT id, machine_id, 'healthy', now() - interval '1 minute' * k FROM agents, generate_series(1, 2) k WHERE machine_id IS NOT NULL;

            ANALYZE;
            """);
    }

    /// <summary>Old code's writes at a fixed arrival rate, each touching rows no other operation touches.</summary>
    public sealed class Writer(string database, int agents, double ratePerSecond)
    {
        private readonly List<(int Kind, int K)> _done = [];
        private CancellationTokenSource? _stop;
        private Task? _task;

        public int Operations => _done.Count;

        public void Start()
        {
            _stop = new CancellationTokenSource();
            _task = RunAsync(_stop.Token);
        }

        public async Task StopAsync()
        {
            await _stop!.CancelAsync();
            await _task!;
        }

        private async Task RunAsync(CancellationToken stop)
        {
            await using var connection = new NpgsqlConnection(database);
            await connection.OpenAsync(CancellationToken.None);
            var clock = Stopwatch.StartNew();
            // Each kind has agents / 20 distinct rows to touch; past that the writer stops.
            for (var op = 0; !stop.IsCancellationRequested && op < agents / 20 * 4; op++)
            {
                var due = TimeSpan.FromSeconds(op / ratePerSecond) - clock.Elapsed;
                if (due > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(due, stop);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }

                var (kind, k) = (op % 4, op / 4 + 1);
                // Old code waits for locks as long as it takes (the floor holds every agent row for its whole UPDATE).
                await using var command = new NpgsqlCommand(Statement(kind, k), connection) { CommandTimeout = 0 };
                await command.ExecuteNonQueryAsync(CancellationToken.None);
                _done.Add((kind, k));
            }
        }

        private string Statement(int kind, int k) => kind switch
        {
            // A new pool server arrives.
            0 => $"INSERT INTO parked_machines (id, machine_id, machine_name, ipv4, status, shared_key, created_at, updated_at) " +
                 $"VALUES ('pmw_{k}', '{50000000 + k}', 'w', '12.{(k >> 16) & 255}.{(k >> 8) & 255}.{k & 255}', 'ready', 'kw{k}', now(), now())",
            // An idle agent claims a pool machine: the row moves from the pool onto the agent.
            1 => $"""
                 WITH p AS (DELETE FROM parked_machines WHERE id = 'pm_{ClaimedPoolRow(k)}' RETURNING machine_id, ipv4, shared_key)
                 UPDATE agents SET machine_id = p.machine_id, machine_ipv4 = p.ipv4, machine_shared_key = p.shared_key,
                     machine_type = 'hetzner', status = 'active' FROM p WHERE agents.id = 'agt_{IdleAgent(k)}'
                 """,
            // A user moves an assigned custom machine to a new address; old code copies it onto the agent too.
            2 => $"""
                 WITH c AS (UPDATE custom_machines SET ipv4 = '198.{(k >> 16) & 255}.{(k >> 8) & 255}.{k & 255}', updated_at = now()
                            WHERE id = 'cm_{10 * k + 4}' RETURNING current_agent_id, ipv4)
                 UPDATE agents SET machine_ipv4 = c.ipv4 FROM c WHERE agents.id = c.current_agent_id
                 """,
            // A user deletes an unassigned custom machine.
            _ => $"DELETE FROM custom_machines WHERE id = 'cmf_{k}'",
        };

        // Even pool rows from the top down (the planted invalid ones are odd); idle agents are those with i % 10 = 9.
        private int ClaimedPoolRow(int k) => agents / 5 - 2 * k;
        private static int IdleAgent(int k) => 10 * k + 9;

        /// <summary>How many of the writer's operations the Machine model shows.</summary>
        public async Task<int> ReflectedAsync()
        {
            int[] Ks(int kind) => _done.Where(d => d.Kind == kind).Select(d => d.K).ToArray();
            var inserts = Ks(0);
            var claims = Ks(1);
            var moves = Ks(2);
            var deletes = Ks(3);
            await using var connection = new NpgsqlConnection(database);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("""
                SELECT (SELECT count(*) FROM unnest(@inserts) k JOIN machines m ON m.id = 'mh_' || (50000000 + k)
                            AND m.ipv4 = '12.' || ((k >> 16) & 255) || '.' || ((k >> 8) & 255) || '.' || (k & 255) AND m.status = 'ready')
                     + (SELECT count(*) FROM unnest(@claims, @claimed_rows, @idle_agents) AS c(k, row, agent)
                            JOIN agents a ON a.id = 'agt_' || c.agent AND a.machine_ref = 'mh_' || (20000000 + c.row)
                            JOIN machines m ON m.id = a.machine_ref AND m.status = 'in_use' AND m.ipv4 = a.machine_ipv4)
                     + (SELECT count(*) FROM unnest(@moves) k JOIN machines m ON m.id = 'mc_cm_' || (10 * k + 4)
                            AND m.ipv4 = '198.' || ((k >> 16) & 255) || '.' || ((k >> 8) & 255) || '.' || (k & 255))
                     + (SELECT count(*) FROM unnest(@deletes) k WHERE NOT EXISTS (SELECT 1 FROM machines m WHERE m.id = 'mc_cmf_' || k))
                """, connection);
            command.Parameters.AddWithValue("inserts", inserts);
            command.Parameters.AddWithValue("claims", claims);
            command.Parameters.AddWithValue("claimed_rows", claims.Select(ClaimedPoolRow).ToArray());
            command.Parameters.AddWithValue("idle_agents", claims.Select(IdleAgent).ToArray());
            command.Parameters.AddWithValue("moves", moves);
            command.Parameters.AddWithValue("deletes", deletes);
            return (int)(long)(await command.ExecuteScalarAsync())!;
        }
    }

    /// <summary>A copy of a database, files and all (the source must have no sessions).</summary>
    public static async Task<string> CloneAsync(string serverConnectionString, string source, string name)
    {
        NpgsqlConnection.ClearAllPools();
        var sourceName = new NpgsqlConnectionStringBuilder(source).Database;
        await Sql.ExecuteAsync(serverConnectionString, $"DROP DATABASE IF EXISTS \"{name}\"; ");
        await Sql.ExecuteAsync(serverConnectionString, $"CREATE DATABASE \"{name}\" TEMPLATE \"{sourceName}\"");
        return new NpgsqlConnectionStringBuilder(source) { Database = name }.ConnectionString;
    }
}
