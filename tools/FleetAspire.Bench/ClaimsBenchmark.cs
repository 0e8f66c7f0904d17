using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Claims;
using FleetAspire.Agents.Apis;
using FleetAspire.Agents.Application;
using FleetAspire.Names;
using FleetAspire.ServiceDefaults.Auth;
using FleetAspire.Testing;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
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
        var profile = options.Int("profile", 0) >= 1;
        var postgres = await TestPostgres.StartDedicatedAsync(durable: true, BenchProfile.Settings(options));
        var rabbit = await TestRabbitMq.GetAsync();
        var database = await postgres.CreateDatabaseAsync("benchclaims");
        await using var agents = new FleetServiceFactory<AgentResponse>(database, await rabbit.CreateVirtualHostAsync("bench"), new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Warning",
        }, services => services.AddTransient<IStartupFilter, PingEndpoint>());
        var baseAddress = agents.StartKestrel();

        // The API's claims, then as many through the application layer alone (no HTTP) on the next agents.
        Console.WriteLine($"seeding {warmup + 2 * ops} agents and ready pool machines, and {ops} floor rows ...");
        await SeedAsync(database, warmup + 2 * ops, clients);

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients * 2 }) { BaseAddress = baseAddress };
        var tokens = Enumerable.Range(0, clients).Select(c => TestTokens.User($"bench-{c}")).ToArray();

        // Warm-up: JIT, connection pools, Kestrel and HTTP connections; not measured.
        await ClaimThroughApiAsync(http, tokens, clients, firstAgent: 0, count: warmup);
        if (profile)
        {
            await BenchProfile.ResetAsync(database);
        }

        var api = await ClaimThroughApiAsync(http, tokens, clients, firstAgent: warmup, count: ops);
        if (profile)
        {
            await BenchProfile.PrintAsync(database);
        }

        var app = await ClaimThroughApplicationAsync(agents.Services, clients, firstAgent: warmup + ops, count: ops);
        var floor = await ClaimFloorAsync(database, clients, ops);
        var ceiling = await PingAsync(http, tokens, clients, ops);
        var doubleClaims = await DoubleClaimsAsync(database);

        var apiPerSecond = api.Succeeded / api.Elapsed.TotalSeconds;
        var floorPerSecond = floor.Succeeded / floor.Elapsed.TotalSeconds;
        Console.WriteLine($"api: {api.Succeeded} claims in {api.Elapsed.TotalSeconds:0.000} s, failures {api.Failed}");
        Console.WriteLine($"floor: {floor.Succeeded} claims in {floor.Elapsed.TotalSeconds:0.000} s");
        var ceilingPerSecond = ceiling.Succeeded / ceiling.Elapsed.TotalSeconds;
        Console.WriteLine($"http ceiling: {ceiling.Succeeded} authenticated requests in {ceiling.Elapsed.TotalSeconds:0.000} s, failures {ceiling.Failed}");
        var appPerSecond = app.Succeeded / app.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"application layer (no HTTP): {app.Succeeded} claims in {app.Elapsed.TotalSeconds:0.000} s, failures {app.Failed}: app_per_s={appPerSecond:0}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"claims clients={clients} ops={ops} api_per_s={apiPerSecond:0} floor_per_s={floorPerSecond:0} ratio={apiPerSecond / floorPerSecond:0.00} double_claims={doubleClaims} http_ceiling_per_s={ceilingPerSecond:0}"));
        return 0;
    }

    private sealed record Run(int Succeeded, int Failed, TimeSpan Elapsed);

    /// <summary>
    /// <paramref name="clients"/> concurrent workers share <paramref name="count"/> operations; each calls
    /// <paramref name="operation"/> with its client number and the operation's index, which says whether it succeeded.
    /// </summary>
    private static async Task<Run> RunConcurrentlyAsync(int clients, int count, Func<int, int, Task<bool>> operation)
    {
        var next = -1;
        var (succeeded, failed) = (0, 0);
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async client =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                Interlocked.Increment(ref await operation(client, i) ? ref succeeded : ref failed);
            }
        }));
        return new Run(succeeded, failed, stopwatch.Elapsed);
    }

    /// <summary>Client c owns agents c, c+clients, ...: every request is a claim by the agent's owner.</summary>
    private static Task<Run> ClaimThroughApiAsync(HttpClient http, string[] tokens, int clients, int firstAgent, int count) =>
        RunConcurrentlyAsync(clients, count, async (_, i) =>
        {
            var agent = firstAgent + i;
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/agents/{AgentId(agent)}/claim");
            request.Headers.Authorization = new("Bearer", tokens[agent % clients]);
            using var response = await http.SendAsync(request);
            return response.StatusCode == HttpStatusCode.OK;
        });

    /// <summary>
    /// The same claims through the agents service's application layer (<see cref="PoolClaims"/>, a DI scope per claim
    /// as a request has) without HTTP: what the claim costs below the web stack.
    /// </summary>
    private static Task<Run> ClaimThroughApplicationAsync(IServiceProvider services, int clients, int firstAgent, int count)
    {
        var callers = Enumerable.Range(0, clients).Select(c => new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(FleetTokens.SubjectClaim, $"bench-{c}"), new Claim(ClaimTypes.Role, AuthNames.UserRole)], "bench"))).ToArray();
        return RunConcurrentlyAsync(clients, count, async (_, i) =>
        {
            var agent = firstAgent + i;
            await using var scope = services.CreateAsyncScope();
            var (outcome, _, _) = await scope.ServiceProvider.GetRequiredService<PoolClaims>()
                .ClaimAsync(callers[agent % clients], AgentId(agent), CancellationToken.None);
            return outcome == ClaimOutcome.Claimed;
        });
    }

    /// <summary>
    /// The HTTP stack's own ceiling in the same run: the same clients, connections and tokens against an endpoint that
    /// authenticates the bearer token (as every API request does) and answers 204 — no routing to a handler, no database.
    /// </summary>
    private static Task<Run> PingAsync(HttpClient http, string[] tokens, int clients, int count) =>
        RunConcurrentlyAsync(clients, count, async (client, _) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, PingEndpoint.Path);
            request.Headers.Authorization = new("Bearer", tokens[client]);
            using var response = await http.SendAsync(request);
            return response.StatusCode == HttpStatusCode.NoContent;
        });

    /// <summary>Added to the agents host by the benchmark only: authenticate, answer 204.</summary>
    private sealed class PingEndpoint : IStartupFilter
    {
        public const string Path = "/bench/ping";

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, nextMiddleware) =>
            {
                if (!context.Request.Path.Equals(Path, StringComparison.Ordinal))
                {
                    await nextMiddleware(context);
                    return;
                }

                var result = await context.AuthenticateAsync();
                context.Response.StatusCode = result.Succeeded ? StatusCodes.Status204NoContent : StatusCodes.Status401Unauthorized;
            });
            next(app);
        };
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
