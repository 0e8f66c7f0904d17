using System.Diagnostics;
using System.Globalization;
using System.Net;
using FleetAspire.Agents.Apis;
using FleetAspire.Testing;
using Npgsql;

namespace FleetAspire.Bench;

/// <summary>
/// Claims through the agents API over HTTP (real Kestrel, real bearer tokens, the outbox on) against a durable
/// PostgreSQL of its own, and in the same run the floor: the bare <c>UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP
/// LOCKED)</c> at the same concurrency.
/// </summary>
internal static class ClaimsBenchmark
{
    public static async Task<int> RunAsync(BenchOptions options)
    {
        var clients = options.Int("clients", 32);
        var ops = options.Int("ops", 5000);
        var warmup = Math.Min(500, ops / 5);

        Console.WriteLine($"starting PostgreSQL (fsync on) and RabbitMQ ...");
        var postgres = await TestPostgres.StartDedicatedAsync(durable: true);
        var rabbit = await TestRabbitMq.GetAsync();
        var database = await postgres.CreateDatabaseAsync("benchclaims");
        await using var agents = new FleetServiceFactory<AgentResponse>(database, await rabbit.CreateVirtualHostAsync("bench"), new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Warning",
        });
        var baseAddress = agents.StartKestrel();

        Console.WriteLine($"seeding {warmup + ops} agents and ready pool machines, and {ops} floor rows ...");
        await SeedAsync(database, warmup + ops, clients);

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients * 2 }) { BaseAddress = baseAddress };
        var tokens = Enumerable.Range(0, clients).Select(c => TestTokens.User($"bench-{c}")).ToArray();

        // Warm-up: JIT, connection pools, Kestrel and HTTP connections; not measured.
        await ClaimThroughApiAsync(http, tokens, clients, firstAgent: 0, count: warmup);
        var api = await ClaimThroughApiAsync(http, tokens, clients, firstAgent: warmup, count: ops);
        var floor = await ClaimFloorAsync(database, clients, ops);
        var doubleClaims = await DoubleClaimsAsync(database);

        var apiPerSecond = api.Succeeded / api.Elapsed.TotalSeconds;
        var floorPerSecond = floor.Succeeded / floor.Elapsed.TotalSeconds;
        Console.WriteLine($"api: {api.Succeeded} claims in {api.Elapsed.TotalSeconds:0.000} s, failures {api.Failed}");
        Console.WriteLine($"floor: {floor.Succeeded} claims in {floor.Elapsed.TotalSeconds:0.000} s");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"claims clients={clients} ops={ops} api_per_s={apiPerSecond:0} floor_per_s={floorPerSecond:0} ratio={apiPerSecond / floorPerSecond:0.00} double_claims={doubleClaims}"));
        return 0;
    }

    private sealed record Run(int Succeeded, int Failed, TimeSpan Elapsed);

    private static async Task<Run> ClaimThroughApiAsync(HttpClient http, string[] tokens, int clients, int firstAgent, int count)
    {
        var next = -1;
        var succeeded = 0;
        var failed = 0;
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async client =>
        {
            // Client c owns agents c, c+clients, ...: every request is a claim by the agent's owner.
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= count)
                {
                    return;
                }

                var agent = firstAgent + i;
                using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/agents/{AgentId(agent)}/claim");
                request.Headers.Authorization = new("Bearer", tokens[agent % clients]);
                using var response = await http.SendAsync(request);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref succeeded);
                }
                else
                {
                    Interlocked.Increment(ref failed);
                }
            }
        }));
        return new Run(succeeded, failed, stopwatch.Elapsed);
    }

    private static async Task<Run> ClaimFloorAsync(string database, int clients, int count)
    {
        const string claim = """
            UPDATE floor_parked SET status = 'claimed', claimed_by = @client
            WHERE id = (SELECT id FROM floor_parked WHERE status = 'ready' ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING id
            """;
        var next = -1;
        var succeeded = 0;
        await using var source = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(database) { MaxPoolSize = clients * 2 }.ConnectionString);
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async client =>
        {
            await using var connection = await source.OpenConnectionAsync();
            await using var command = new NpgsqlCommand(claim, connection);
            command.Parameters.AddWithValue("client", client);
            await command.PrepareAsync();
            while (Interlocked.Increment(ref next) < count)
            {
                if (await command.ExecuteScalarAsync() is not null)
                {
                    Interlocked.Increment(ref succeeded);
                }
            }
        }));
        return new Run(succeeded, count - succeeded, stopwatch.Elapsed);
    }

    /// <summary>Machines held by more than one agent (must be 0).</summary>
    private static async Task<long> DoubleClaimsAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM (SELECT machine_id FROM agents WHERE machine_id IS NOT NULL GROUP BY machine_id HAVING count(*) > 1) d",
            connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static string AgentId(int i) => $"agt_bench{i:D10}";

    private static async Task SeedAsync(string database, int count, int clients)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        var sql = $"""
            INSERT INTO agents (id, name, user_id, status, created_at, updated_at)
            SELECT 'agt_bench' || lpad(i::text, 10, '0'), 'bench-' || i, 'bench-' || (i % {clients}), 'idle', now(), now()
            FROM generate_series(0, {count - 1}) i;
            INSERT INTO parked_machines (id, machine_id, machine_name, ipv4, status, shared_key, created_at, updated_at)
            SELECT 'pm_bench' || i, (9000000 + i)::text, 'bench-' || i,
                   '10.' || (i / 65536 % 256) || '.' || (i / 256 % 256) || '.' || (i % 256), 'ready',
                   md5(i::text), now() + i * interval '1 microsecond', now()
            FROM generate_series(0, {count - 1}) i;
            CREATE TABLE floor_parked (LIKE parked_machines INCLUDING ALL);
            ALTER TABLE floor_parked ADD COLUMN claimed_by int;
            INSERT INTO floor_parked (id, machine_id, machine_name, ipv4, status, shared_key, created_at, updated_at)
            SELECT id, machine_id, machine_name, ipv4, status, shared_key, created_at, updated_at FROM parked_machines;
            """;
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 600 };
        await command.ExecuteNonQueryAsync();
        // VACUUM refuses to run inside a multi-statement batch.
        await using var vacuum = new NpgsqlCommand("VACUUM ANALYZE", connection) { CommandTimeout = 600 };
        await vacuum.ExecuteNonQueryAsync();
    }
}
