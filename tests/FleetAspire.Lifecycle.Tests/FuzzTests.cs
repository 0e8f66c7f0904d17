using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using FleetAspire.Agents.Apis;
using FleetAspire.Machines.Apis;
using FleetAspire.Pool.Apis;
using FleetAspire.Snapshots.Apis;
using FleetAspire.Testing;
using Npgsql;
using Xunit.Abstractions;

namespace FleetAspire.Lifecycle.Tests;

[Collection(LifecycleCollection.Name)]
public sealed class FuzzTests(ITestOutputHelper output)
{
    private const int RequestCount = 12_000;
    private static readonly string[] Tables =
    [
        "agents", "parked_machines", "custom_machines", "machine_health_checks", "machine_snapshots", "pool_settings", "outbox_messages",
        "machines", "legacy_changes", "migration_divergences", "migration_dirty_rows",
        "migration_backfill", "migration_verifications", "migration_phase", "migration_phase_history",
        // Not migration_instances: every instance heartbeats into it on its own.
    ];

    [Fact]
    public async Task Twelve_thousand_hostile_requests_across_every_endpoint_get_no_5xx_and_change_no_row()
    {
        var database = await (await TestPostgres.GetAsync()).CreateDatabaseAsync("fuzz");
        var vhost = await (await TestRabbitMq.GetAsync()).CreateVirtualHostAsync("fuzz");
        // Nothing may change the database on its own during the run: no reconciler, no heartbeat sweeper.
        var quiet = new Dictionary<string, string?> { ["Pool:ReconcilerEnabled"] = "false", ["HealthChecks:SweeperEnabled"] = "false" };
        await using var agents = new FleetServiceFactory<AgentResponse>(database, vhost, quiet);
        await using var pool = new FleetServiceFactory<PoolStatusResponse>(database, vhost, quiet);
        await using var machines = new FleetServiceFactory<CustomMachineResponse>(database, vhost, quiet);
        await using var snapshots = new FleetServiceFactory<SnapshotResponse>(database, vhost, quiet);
        await using var migration = new FleetServiceFactory<FleetAspire.Migration.Apis.MigrationStatus>(database, vhost, quiet);
        var bases = new Dictionary<string, Uri>
        {
            ["agents"] = agents.StartKestrel(),
            ["pool"] = pool.StartKestrel(),
            ["machines"] = machines.StartKestrel(),
            ["snapshots"] = snapshots.StartKestrel(),
            ["migration"] = migration.StartKestrel(),
        };
        var victimIds = await SeedVictimsAsync(bases);
        await WaitForOutboxToDrainAsync(database);
        var before = await ChecksumsAsync(database);

        var statuses = new ConcurrentDictionary<int, int>();
        var failures = new ConcurrentQueue<string>();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 32 }) { Timeout = TimeSpan.FromSeconds(30) };
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 16).Select(async worker =>
        {
            var generator = new HostileRequests(new Random(worker), victimIds);
            while (Interlocked.Increment(ref next) < RequestCount)
            {
                using var request = generator.Next(bases["agents"], out var endpoint);
                request.RequestUri = new Uri(bases[endpoint.Service], request.RequestUri!.PathAndQuery);
                using var response = await http.SendAsync(request);
                var code = (int)response.StatusCode;
                statuses.AddOrUpdate(code, 1, (_, n) => n + 1);
                var body = await response.Content.ReadAsStringAsync();
                if (code >= 500 || (endpoint.Writes && code < 300))
                {
                    failures.Enqueue($"{request.Method} {request.RequestUri.PathAndQuery[..Math.Min(120, request.RequestUri.PathAndQuery.Length)]} -> {code} {body[..Math.Min(200, body.Length)]}");
                }
                else if (code >= 400 && body.Length > 0 && response.Content.Headers.ContentType?.MediaType != "application/problem+json")
                {
                    failures.Enqueue($"{request.Method} {endpoint.Template} -> {code} without ProblemDetails");
                }
            }
        }));

        output.WriteLine("status counts: " + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}={s.Value}")));
        Assert.Equal(RequestCount, statuses.Values.Sum());
        Assert.Empty(failures.Take(20));
        Assert.Equal(before, await ChecksumsAsync(database));
    }

    /// <summary>
    /// Another user's agents (two holding pool machines), custom machine and snapshot: the fuzzer aims at their ids
    /// and must miss.
    /// </summary>
    private static async Task<IReadOnlyList<string>> SeedVictimsAsync(Dictionary<string, Uri> bases)
    {
        using var victim = new HttpClient { BaseAddress = bases["agents"] };
        victim.DefaultRequestHeaders.Authorization = new("Bearer", TestTokens.User("victim"));
        using var ops = new HttpClient { BaseAddress = bases["pool"] };
        ops.DefaultRequestHeaders.Authorization = new("Bearer", TestTokens.Operator());
        (await ops.PutAsJsonAsync("/api/pool/target", new SetPoolTargetRequest(4))).EnsureSuccessStatusCode();
        (await ops.PostAsync("/api/pool/reconcile", null)).EnsureSuccessStatusCode();
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var agent = await (await victim.PostAsJsonAsync("/api/agents", new CreateAgentRequest($"victim-{i}"))).Content.ReadFromJsonAsync<AgentResponse>();
            ids.Add(agent!.Id);
            if (i < 2)
            {
                (await victim.PostAsync($"/api/agents/{agent.Id}/claim", null)).EnsureSuccessStatusCode();
            }
        }

        using var victimMachines = new HttpClient { BaseAddress = bases["machines"] };
        victimMachines.DefaultRequestHeaders.Authorization = new("Bearer", TestTokens.User("victim"));
        var machine = await (await victimMachines.PostAsJsonAsync("/api/machines/custom",
            new RegisterCustomMachineRequest("203.0.113.99", 8911, "victim-key-0123456789", null, null, null, null))).Content.ReadFromJsonAsync<CustomMachineResponse>();
        ids.Add(machine!.Id);
        (await victimMachines.PostAsJsonAsync($"/api/machines/custom/{machine.Id}/assign", new AssignCustomMachineRequest(ids[4]))).EnsureSuccessStatusCode();
        using var victimSnapshots = new HttpClient { BaseAddress = bases["snapshots"] };
        victimSnapshots.DefaultRequestHeaders.Authorization = new("Bearer", TestTokens.User("victim"));
        var snapshot = await (await victimSnapshots.PostAsJsonAsync("/api/snapshots", new CreateSnapshotRequest(ids[0]))).Content.ReadFromJsonAsync<SnapshotResponse>();
        ids.Add(snapshot!.Id);
        return ids;
    }

    private static Task WaitForOutboxToDrainAsync(string database) =>
        Eventually.TrueAsync(async () =>
        {
            await using var connection = new NpgsqlConnection(database);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT count(*) FROM outbox_messages WHERE sent_at IS NULL", connection);
            return (long)(await command.ExecuteScalarAsync())! == 0;
        }, TimeSpan.FromSeconds(30), "the outbox did not drain before fuzzing");

    /// <summary>An md5 over every row of every table: any insert, update or delete changes it.</summary>
    private static async Task<string> ChecksumsAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        var sums = new List<string>();
        foreach (var table in Tables)
        {
            await using var command = new NpgsqlCommand($"SELECT '{table}:' || count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {table} t", connection);
            sums.Add((string)(await command.ExecuteScalarAsync())!);
        }

        return string.Join(Environment.NewLine, sums);
    }
}
