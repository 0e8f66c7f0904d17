using System.Diagnostics;
using System.Globalization;
using System.Security.Claims;
using FleetAspire.Agents.Apis;
using FleetAspire.Agents.Application;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Data.MachineTransition.Shadow;
using FleetAspire.Names;
using FleetAspire.ServiceDefaults.Auth;
using FleetAspire.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace FleetAspire.Bench;

/// <summary>
/// Agent reads through the agents service's application layer (no HTTP) in <c>DualWrite</c>, at a fixed arrival rate
/// (open loop: a slow read does not slow the arrivals), alternating blocks of 50 between an instance comparing every
/// read with the other side (100 %) and one comparing none (0 %), on one durable database. The comparisons run on the
/// instance's worker; they are counted when done, and waited for before the figures are printed.
/// </summary>
internal static class ReadsBenchmark
{
    private const int Block = 50;

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var ops = options.Int("ops", 4000);
        var rate = options.Int("rate", 200);
        const int agents = 5000;

        Console.WriteLine("starting PostgreSQL (fsync on) and RabbitMQ ...");
        var postgres = await TestPostgres.StartDedicatedAsync(durable: true);
        var rabbit = await TestRabbitMq.GetAsync();
        var database = await postgres.CreateDatabaseAsync("benchreads");
        await Sql.ExecuteAsync(database, $"""
            INSERT INTO agents (id, name, user_id, status, created_at, updated_at, machine_id, machine_ipv4, machine_shared_key, machine_type)
            SELECT 'agt_' || i, 'bench', 'bench-user', 'active', now(), now(), (50000000 + i)::text,
                   '10.' || ((i >> 16) & 255) || '.' || ((i >> 8) & 255) || '.' || (i & 255), 'key-' || md5(i::text), 'hetzner'
            FROM generate_series(1, {agents}) i;
            ANALYZE;
            """);
        await using var source = NpgsqlDataSource.Create(database);
        var backfill = new MachineBackfill(source, new BackfillOptions { BatchSize = 5000, Pause = TimeSpan.Zero });
        await backfill.StartAsync(CancellationToken.None);
        await backfill.RunAsync(CancellationToken.None);
        var phases = new PhaseStore(source);
        var legacy = await phases.ReadAsync(CancellationToken.None);
        await phases.FlipAsync(TransitionPhase.DualWrite, legacy.Epoch, "bench", "reads", true, [], CancellationToken.None);

        var vhost = await rabbit.CreateVirtualHostAsync("benchreads");
        Dictionary<string, string?> Settings(int shadowRate) => new()
        {
            ["Logging:LogLevel:Default"] = "Warning",
            ["MachineTransition:Shadow:DualWriteRate"] = shadowRate.ToString(CultureInfo.InvariantCulture),
        };
        await using var plain = new FleetServiceFactory<AgentResponse>(database, vhost, Settings(0));
        await using var shadowed = new FleetServiceFactory<AgentResponse>(database, vhost, Settings(100));
        _ = plain.Server;
        _ = shadowed.Server;
        var caller = new ClaimsPrincipal(new ClaimsIdentity([new Claim(FleetTokens.SubjectClaim, "ops"), new Claim(ClaimTypes.Role, AuthNames.OperatorRole)], "bench"));

        var warmup = Math.Min(400, ops / 5);
        var latencies = new[] { new List<double>(), new List<double>() };
        var reads = new List<Task>();
        var interval = TimeSpan.FromSeconds(1.0 / rate);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < warmup + ops; i++)
        {
            var due = interval * i;
            if (clock.Elapsed < due)
            {
                await Task.Delay(due - clock.Elapsed);
            }

            var withShadow = i / Block % 2 == 1;
            var services = (withShadow ? shadowed : plain).Services;
            var agentId = $"agt_{1 + Random.Shared.Next(agents)}";
            var measured = i >= warmup;
            reads.Add(Task.Run(async () =>
            {
                var started = Stopwatch.GetTimestamp();
                await using var scope = services.CreateAsyncScope();
                var agentService = scope.ServiceProvider.GetRequiredService<AgentService>();
                var agent = await agentService.FindVisibleAsync(caller, agentId, CancellationToken.None)
                    ?? throw new InvalidOperationException($"{agentId} is missing");
                _ = await agentService.ResponseAsync(agent, CancellationToken.None);
                if (measured)
                {
                    var list = latencies[withShadow ? 1 : 0];
                    lock (list)
                    {
                        list.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    }
                }
            }));
        }

        await Task.WhenAll(reads);
        var queue = shadowed.Services.GetRequiredService<ShadowCompareQueue>();
        var worker = shadowed.Services.GetRequiredService<ShadowCompareWorker>();
        var drained = Stopwatch.StartNew();
        while (worker.Done < queue.Accepted && drained.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(50);
        }

        var divergences = await Sql.ScalarAsync(database, "SELECT count(*) FROM migration_divergences WHERE source = 'shadow'");
        var plainP50 = Median(latencies[0]);
        var shadowP50 = Median(latencies[1]);
        Console.WriteLine($"arrivals {rate}/s over {clock.Elapsed.TotalSeconds:0.0} s; plain {latencies[0].Count}, shadowed {latencies[1].Count}; " +
                          $"shadow divergences recorded: {divergences}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"reads ops={ops} plain_p50_ms={plainP50:0.000} shadow_p50_ms={shadowP50:0.000} ratio={shadowP50 / plainP50:0.00} shadow_done={worker.Done} shadow_dropped={queue.Dropped}"));
        return 0;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values.Count == 0 ? double.NaN : values[values.Count / 2];
    }
}
