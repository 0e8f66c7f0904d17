using System.Diagnostics;
using System.Globalization;
using System.Security.Claims;
using FleetAspire.Agents.Apis;
using FleetAspire.Agents.Application;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Machines.Apis;
using FleetAspire.Machines.Application;
using FleetAspire.Names;
using FleetAspire.ServiceDefaults.Auth;
using FleetAspire.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace FleetAspire.Bench;

/// <summary>
/// The application layer's writes (no HTTP) in <c>Legacy</c> and in <c>DualWrite</c>, interleaved in blocks in one run
/// on one durable database: claim + release of a pool machine, and register + assign of a custom machine. The outbox,
/// the epoch fence and the zero-delay provider simulator are the same in both modes; only the dual-write differs.
/// </summary>
internal static class WritesBenchmark
{
    private const int Block = 50;

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var ops = options.Int("ops", 2000);
        var warmup = Math.Min(200, ops / 5);
        var total = warmup + ops;

        Console.WriteLine("starting PostgreSQL (fsync on) and RabbitMQ ...");
        var profile = options.Int("profile", 0) >= 1;
        var postgres = await TestPostgres.StartDedicatedAsync(durable: true, BenchProfile.Settings(options));
        var rabbit = await TestRabbitMq.GetAsync();
        var database = await postgres.CreateDatabaseAsync("benchwrites");
        await Sql.ExecuteAsync(database, $"""
            INSERT INTO parked_machines (id, machine_id, machine_name, ipv4, status, shared_key, created_at, updated_at)
            SELECT 'pm_' || i, (30000000 + i)::text, 'pool-' || i, '10.' || ((i >> 16) & 255) || '.' || ((i >> 8) & 255) || '.' || (i & 255),
                   'ready', 'key-' || md5(i::text), now() - interval '1 hour' + i * interval '1 ms', now()
            FROM generate_series(1, {total}) i;
            INSERT INTO agents (id, name, user_id, status, created_at, updated_at)
            SELECT 'agt_' || i, 'bench', 'bench-user', 'idle', now(), now() FROM generate_series(1, {2 * total}) i;
            ANALYZE;
            """);
        var vhost = await rabbit.CreateVirtualHostAsync("benchwrites");
        var quiet = new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Warning",
            ["Pool:ReconcilerEnabled"] = "false",
            ["HealthChecks:SweeperEnabled"] = "false",
        };
        await using var agents = new FleetServiceFactory<AgentResponse>(database, vhost, quiet);
        await using var machines = new FleetServiceFactory<CustomMachineResponse>(database, vhost, quiet);
        _ = agents.Server;
        _ = machines.Server;
        await using var source = NpgsqlDataSource.Create(database);
        var phases = new PhaseStore(source);
        var caller = new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(FleetTokens.SubjectClaim, "bench-user"), new Claim(ClaimTypes.Role, AuthNames.UserRole)], "bench"));

        var latencies = new Dictionary<TransitionPhase, List<double>> { [TransitionPhase.Legacy] = [], [TransitionPhase.DualWrite] = [] };
        for (var i = 1; i <= total; i++)
        {
            // Blocks alternate between the two phases; a flip waits for no write (the bench is one client).
            var phase = (i - 1) / Block % 2 == 0 ? TransitionPhase.Legacy : TransitionPhase.DualWrite;
            var current = await phases.ReadAsync(CancellationToken.None);
            if (current.Phase != phase)
            {
                await phases.FlipAsync(phase, current.Epoch, "bench", "interleave", true, [], CancellationToken.None);
            }

            var clock = Stopwatch.StartNew();
            await ClaimAndReleaseAsync(agents.Services, caller, $"agt_{i}");
            await RegisterAndAssignAsync(machines.Services, caller, i, $"agt_{total + i}");
            if (i > warmup)
            {
                latencies[phase].Add(clock.Elapsed.TotalMilliseconds);
            }
            else if (i == warmup && profile)
            {
                await BenchProfile.ResetAsync(database);
            }
        }

        var linked = await Sql.ScalarAsync(database, "SELECT count(*) FROM agents WHERE machine_ref IS NOT NULL");
        if (profile)
        {
            await BenchProfile.PrintAsync(database);
        }

        var legacy = Median(latencies[TransitionPhase.Legacy]);
        var dual = Median(latencies[TransitionPhase.DualWrite]);
        Console.WriteLine($"legacy: {latencies[TransitionPhase.Legacy].Count} ops, dual-write: {latencies[TransitionPhase.DualWrite].Count} ops; " +
                          $"agents linked to a Machine by dual-write: {linked}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"writes ops={ops} legacy_p50_ms={legacy:0.000} dualwrite_p50_ms={dual:0.000} ratio={dual / legacy:0.00}"));
        return 0;
    }

    private static async Task ClaimAndReleaseAsync(IServiceProvider services, ClaimsPrincipal caller, string agentId)
    {
        await using var scope = services.CreateAsyncScope();
        var claims = scope.ServiceProvider.GetRequiredService<PoolClaims>();
        var (claimed, _, _) = await claims.ClaimAsync(caller, agentId, CancellationToken.None);
        var (released, _) = await claims.ReleaseAsync(caller, agentId, CancellationToken.None);
        if (claimed != ClaimOutcome.Claimed || released != ReleaseOutcome.Released)
        {
            throw new InvalidOperationException($"claim/release of {agentId}: {claimed}/{released}");
        }
    }

    private static async Task RegisterAndAssignAsync(IServiceProvider services, ClaimsPrincipal caller, int i, string agentId)
    {
        await using var scope = services.CreateAsyncScope();
        var custom = scope.ServiceProvider.GetRequiredService<CustomMachineService>();
        var (registered, machine) = await custom.RegisterAsync("bench-user",
            new RegisterCustomMachine($"172.{16 + ((i >> 16) & 15)}.{(i >> 8) & 255}.{i & 255}", 22, $"bench-key-{i:D8}-0123456789", "linux", "x86_64", 4, 8),
            CancellationToken.None);
        var (assigned, _) = await custom.AssignAsync(caller, machine!.Id, agentId, CancellationToken.None);
        if (registered != MachineOutcome.Ok || assigned != MachineOutcome.Ok)
        {
            throw new InvalidOperationException($"register/assign {i}: {registered}/{assigned}");
        }
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values.Count == 0 ? double.NaN : values[values.Count / 2];
    }
}
