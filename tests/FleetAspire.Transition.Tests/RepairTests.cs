using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Data.MachineTransition.Repair;
using FleetAspire.Data.MachineTransition.Verification;
using FleetAspire.Migration.Apis;
using FleetAspire.OldWriter;
using Npgsql;

namespace FleetAspire.Transition.Tests;

/// <summary>Old code counts as alive for two seconds after its last write.</summary>
public sealed class RepairFleet : PhaseFleet
{
    protected override Dictionary<string, string?>? ControlSettings => new()
    {
        ["Phases:OldCodeWindow"] = "00:00:02",
        ["Verification:IncrementalInterval"] = "00:00:00",
    };
}

/// <summary>Writes from outside this build are classified, keep MachineRead closed, and repair the right way.</summary>
public sealed class RepairTests(RepairFleet fleet) : IClassFixture<RepairFleet>
{
    private HttpClient Operator() => fleet.Control.ClientFor(TestTokens.Operator("ops"));

    private async Task<RepairReport> RepairAsync(bool apply)
    {
        var response = await Operator().PostAsJsonAsync("/api/migration/repair", new RepairRequest(apply));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<RepairReport>())!;
    }

    private async Task<GateResult> OldCodeGateAsync()
    {
        var status = await Operator().GetFromJsonAsync<MigrationStatus>("/api/migration");
        return status!.Phases.Next!.Gates.Single(g => g.Gate == "no-legacy-only-writes");
    }

    [Fact]
    public async Task Old_code_writes_are_classified_keep_MachineRead_closed_and_are_repaired_legacy_to_Machine()
    {
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
        var pool = await fleet.AgentWithPoolMachineAsync("oldcode");
        var (custom, _) = await fleet.RegisterMachineAsync("oldcode", "203.0.113.50", port: 2200);

        // An old build (hand-written SQL here: no writer in the change log) writes legacy columns only.
        await fleet.ExecuteAsync($"UPDATE custom_machines SET port = 2999 WHERE id = '{custom.Id}'; UPDATE agents SET machine_ipv4 = '10.55.0.1' WHERE id = '{pool.Id}'");
        await Eventually.TrueAsync(async () =>
            {
                (await Operator().PostAsync("/api/migration/verify?mode=incremental", null)).EnsureSuccessStatusCode();
                return await fleet.ScalarAsync(
                    "SELECT count(*) FROM migration_divergences WHERE kind = 'legacy-only-write' AND source = 'old-code' AND resolved_at IS NULL AND entity_id IN (@a, @b)",
                    ("a", custom.Id), ("b", pool.Id)) == 2;
            },
            TimeSpan.FromSeconds(15), "the old code's writes were not classified legacy-only-write");
        Assert.False((await OldCodeGateAsync()).Passed);

        // Dry run: the plan, nothing written.
        var plan = await RepairAsync(apply: false);
        Assert.False(plan.Applied);
        Assert.Contains(plan.Items, i => i.EntityId == custom.Id && i.Kind == DivergenceKinds.LegacyOnlyWrite && i.Direction == RepairDirections.LegacyToMachine);
        Assert.Equal(2200, await fleet.ScalarAsync("SELECT port FROM machines WHERE legacy_id = @id", ("id", custom.Id)));

        // Applied: Machine takes legacy's values; audited; the next full scan is clean.
        var applied = await RepairAsync(apply: true);
        Assert.True(applied.Applied);
        Assert.Equal(2999, await fleet.ScalarAsync("SELECT port FROM machines WHERE legacy_id = @id", ("id", custom.Id)));
        Assert.Equal("10.55.0.1", await fleet.StringAsync("SELECT ipv4 FROM machines WHERE legacy_id = @id", ("id", pool.MachineId!)));
        Assert.Equal(1, await fleet.ScalarAsync("SELECT count(*) FROM migration_repairs WHERE id = @id AND actor = 'ops'", ("id", applied.RepairId!)));
        var scan = await (await Operator().PostAsync("/api/migration/verify", null)).Content.ReadFromJsonAsync<VerificationSummary>();
        Assert.True(scan!.Clean, string.Join(", ", scan.OpenByKind.Select(k => $"{k.Key}={k.Value}")));

        // With nothing unrepaired and the old code quiet for its window, the gate opens.
        await Eventually.TrueAsync(async () => (await OldCodeGateAsync()).Passed, TimeSpan.FromSeconds(10), "the old-code gate did not open");
    }

    [Fact]
    public async Task The_old_version_writer_is_caught_keeps_MachineRead_closed_while_it_runs_and_is_repaired()
    {
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
        await using var source = NpgsqlDataSource.Create(fleet.Database);
        var writer = new OldCodeWriter(source, "old-build-test");
        using var stop = new CancellationTokenSource();
        // The old build runs beside the new services (paced like the resource, not as a synchronisation).
        var running = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await writer.RunOnceAsync(CancellationToken.None);
                await Task.Delay(100, CancellationToken.None);
            }
        });

        // Caught: its writes are classified as coming from outside this build.
        await Eventually.TrueAsync(async () =>
            {
                (await Operator().PostAsync("/api/migration/verify?mode=incremental", null)).EnsureSuccessStatusCode();
                return await fleet.ScalarAsync("""
                    SELECT count(*) FROM migration_divergences
                    WHERE kind = 'legacy-only-write' AND entity = 'custom_machines' AND entity_id LIKE 'cm_old_%' AND resolved_at IS NULL
                    """) > 0;
            },
            TimeSpan.FromSeconds(15), "the old build's writes were not classified");

        // While it runs, MachineRead stays closed — even right after a repair.
        await RepairAsync(apply: true);
        Assert.False((await OldCodeGateAsync()).Passed);

        // Stopped, its last writes classified and repaired: Machine has them, the gate opens after the window.
        await stop.CancelAsync();
        await running;
        await Eventually.TrueAsync(async () =>
            {
                (await Operator().PostAsync("/api/migration/verify?mode=incremental", null)).EnsureSuccessStatusCode();
                await RepairAsync(apply: true);
                return (await OldCodeGateAsync()).Passed;
            },
            TimeSpan.FromSeconds(20), "the old-code gate did not open after the old build stopped and was repaired");
        Assert.Equal(0, await fleet.ScalarAsync("""
            SELECT count(*) FROM custom_machines c LEFT JOIN machines m ON m.id = fleet_machine_id('custom', c.id)
            WHERE c.user_id = 'old-build-test' AND (m.id IS NULL OR m.port <> c.port)
            """));
        Assert.True(await fleet.ScalarAsync("SELECT count(*) FROM custom_machines WHERE user_id = 'old-build-test'") > 0);
    }

    [Fact]
    public async Task In_MachineRead_a_repair_writes_legacy_from_Machine_and_nothing_in_MachineOnly()
    {
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
        var (custom, _) = await fleet.RegisterMachineAsync("mr-repair", "203.0.113.60", port: 2300);
        await fleet.WalkToAsync(TransitionPhase.MachineRead);
        await fleet.ExecuteAsync($"UPDATE machines SET port = 2888 WHERE legacy_id = '{custom.Id}'");
        (await Operator().PostAsync("/api/migration/verify", null)).EnsureSuccessStatusCode();

        var dry = await RepairAsync(apply: false);
        Assert.Contains(dry.Items, i => i.Field == "port" && i.Direction == RepairDirections.MachineToLegacy);
        Assert.Equal(2300, await fleet.ScalarAsync("SELECT port FROM custom_machines WHERE id = @id", ("id", custom.Id)));
        await RepairAsync(apply: true);

        Assert.Equal(2888, await fleet.ScalarAsync("SELECT port FROM custom_machines WHERE id = @id", ("id", custom.Id)));
        var scan = await (await Operator().PostAsync("/api/migration/verify", null)).Content.ReadFromJsonAsync<VerificationSummary>();
        Assert.True(scan!.Clean, string.Join(", ", scan.OpenByKind.Select(k => $"{k.Key}={k.Value}")));

        await fleet.WalkToAsync(TransitionPhase.MachineOnly);
        var refused = await Operator().PostAsJsonAsync("/api/migration/repair", new RepairRequest(true));
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
    }
}
