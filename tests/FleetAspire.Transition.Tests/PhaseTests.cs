using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FleetAspire.Data;
using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Migration.Apis;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace FleetAspire.Transition.Tests;

public sealed class PhaseRulesTests
{
    [Theory]
    [InlineData(TransitionPhase.Legacy, TransitionPhase.DualWrite, true)]
    [InlineData(TransitionPhase.DualWrite, TransitionPhase.Legacy, true)]
    [InlineData(TransitionPhase.MachineOnly, TransitionPhase.MachineRead, true)]
    [InlineData(TransitionPhase.Legacy, TransitionPhase.MachineRead, false)]
    [InlineData(TransitionPhase.MachineOnly, TransitionPhase.DualWrite, false)]
    [InlineData(TransitionPhase.DualWrite, TransitionPhase.DualWrite, false)]
    [InlineData(TransitionPhase.MachineOnly, TransitionPhase.Contracted, true)]
    [InlineData(TransitionPhase.Contracted, TransitionPhase.MachineOnly, false)]
    [InlineData(TransitionPhase.MachineRead, TransitionPhase.Contracted, false)]
    public void Flips_go_one_step_at_a_time(TransitionPhase from, TransitionPhase to, bool allowed) =>
        Assert.Equal(allowed, PhaseRules.IsSingleStep(from, to));

    [Theory]
    [InlineData(TransitionPhase.Legacy, true, false, false)]
    [InlineData(TransitionPhase.DualWrite, true, true, false)]
    [InlineData(TransitionPhase.MachineRead, true, true, true)]
    [InlineData(TransitionPhase.MachineOnly, false, true, true)]
    [InlineData(TransitionPhase.Contracted, false, true, true)]
    public void Each_phase_sets_the_storage_flags(TransitionPhase phase, bool writeLegacy, bool writeMachine, bool readMachine)
    {
        Assert.Equal(writeLegacy, PhaseRules.IsEnabled(PhaseRules.Flags.WriteLegacy, phase));
        Assert.Equal(writeMachine, PhaseRules.IsEnabled(PhaseRules.Flags.WriteMachine, phase));
        Assert.Equal(readMachine, PhaseRules.IsEnabled(PhaseRules.Flags.ReadMachine, phase));
    }

    [Theory]
    [InlineData("DualWrite", true)]
    [InlineData("dualwrite", false)]
    [InlineData("1", false)]
    [InlineData("Contracted", true)]
    [InlineData("Steady", false)]
    [InlineData(null, false)]
    public void Only_exact_phase_names_parse(string? value, bool parses) => Assert.Equal(parses, PhaseRules.TryParse(value, out _));

    [Fact]
    public void Contracted_is_the_one_way_end_and_the_steady_model_starts_at_MachineOnly()
    {
        Assert.Equal(TransitionPhase.Contracted, PhaseRules.Next(TransitionPhase.MachineOnly));
        Assert.Null(PhaseRules.Next(TransitionPhase.Contracted));
        Assert.Null(PhaseRules.Previous(TransitionPhase.Contracted));
        Assert.True(PhaseRules.IsOneWay(TransitionPhase.MachineOnly, TransitionPhase.Contracted));
        Assert.False(PhaseRules.IsOneWay(TransitionPhase.MachineRead, TransitionPhase.MachineOnly));
        Assert.Equal(new[] { true, true, true, false, false },
            Enum.GetValues<TransitionPhase>().Select(PhaseRules.MapsLegacy));
        Assert.Equal(PhaseRules.Capabilities.Contracted, PhaseRules.RequiredCapability(TransitionPhase.Contracted));
    }
}

/// <summary>Flipping phases with the fleet running. Tests share the fleet: each walks to the phase it starts from.</summary>
public sealed class PhaseFlipTests(PhaseFleet fleet) : IClassFixture<PhaseFleet>
{
    private FleetServiceFactory<MigrationStatus> Control => fleet.Control;

    private HttpClient Operator() => Control.ClientFor(TestTokens.Operator("ops"));

    private Task<long> ScalarAsync(string sql, params (string Name, object Value)[] parameters) => fleet.ScalarAsync(sql, parameters);
    private Task<string?> StringAsync(string sql, params (string Name, object Value)[] parameters) => fleet.StringAsync(sql, parameters);
    private Task ExecuteAsync(string sql) => fleet.ExecuteAsync(sql);

    private async Task<HttpResponseMessage> FlipAsync(string target, bool force = false, string reason = "test") =>
        await Operator().PostAsJsonAsync("/api/migration/phase", new PhaseFlipRequest(target, reason, force));

    private async Task FourInstancesAtCurrentEpochAsync()
    {
        var epoch = await ScalarAsync("SELECT epoch FROM migration_phase");
        await Eventually.TrueAsync(async () => await ScalarAsync(
                "SELECT count(*) FROM migration_instances WHERE expires_at > now() AND epoch = @e", ("e", epoch)) == 4,
            TimeSpan.FromSeconds(10), "the four services did not register at the current epoch");
    }

    [Fact]
    public async Task Every_service_follows_a_flip_within_two_seconds_and_dual_writes_in_the_same_transaction()
    {
        await EnsurePhaseAsync(TransitionPhase.Legacy);
        await FourInstancesAtCurrentEpochAsync();
        var epoch = await ScalarAsync("SELECT epoch FROM migration_phase");

        var flip = await FlipAsync("DualWrite");
        var flippedAt = DateTimeOffset.UtcNow;
        Assert.Equal(HttpStatusCode.OK, flip.StatusCode);
        await Eventually.TrueAsync(async () => await ScalarAsync(
                "SELECT count(*) FROM migration_instances WHERE expires_at > now() AND epoch = @e", ("e", epoch + 1)) == 4,
            TimeSpan.FromSeconds(2), "not every instance acknowledged the flip within 2 s");
        var followedIn = DateTimeOffset.UtcNow - flippedAt;

        // A claim, a custom registration and an assignment now land in both representations.
        var agent = await fleet.AgentWithPoolMachineAsync("dw-alice");
        var (machine, _) = await fleet.RegisterMachineAsync("dw-alice");
        var other = await fleet.CreateAgentAsync("dw-alice");
        using var machines = fleet.MachinesAs(TestTokens.User("dw-alice"));
        (await machines.PostAsJsonAsync($"/api/machines/custom/{machine.Id}/assign", new { agentId = other.Id })).EnsureSuccessStatusCode();

        Assert.True(followedIn < TimeSpan.FromSeconds(2), $"followed in {followedIn.TotalMilliseconds:0} ms");
        Assert.Equal(1, await ScalarAsync("""
            SELECT count(*) FROM agents a JOIN machines m ON m.id = a.machine_ref
            WHERE a.id = @id AND m.id = fleet_machine_id('hetzner', a.machine_id) AND m.status = 'in_use' AND m.ipv4 = a.machine_ipv4
            """, ("id", agent.Id)));
        Assert.Equal(1, await ScalarAsync("""
            SELECT count(*) FROM agents a JOIN machines m ON m.id = a.machine_ref
            WHERE a.id = @id AND m.id = fleet_machine_id('custom', @machine) AND m.user_id = 'dw-alice' AND m.type = 'custom'
            """, ("id", other.Id), ("machine", machine.Id)));
        // Writes carry the service that made them: the change log tells new code from old.
        Assert.Equal(0, await ScalarAsync("SELECT count(*) FROM legacy_changes WHERE changed_at > @t AND writer IS NULL", ("t", flippedAt)));

        // Release: the relation goes with the legacy fields, in the same transaction.
        using var agents = fleet.AgentsAs(TestTokens.User("dw-alice"));
        (await agents.PostAsync($"/api/agents/{agent.Id}/release", null)).EnsureSuccessStatusCode();
        Assert.Equal(1, await ScalarAsync("SELECT count(*) FROM agents WHERE id = @id AND machine_ref IS NULL AND machine_id IS NULL", ("id", agent.Id)));
    }

    [Fact]
    public async Task A_flip_waits_for_a_write_already_inside_its_transaction_and_the_write_lands_in_one_mode()
    {
        await EnsurePhaseAsync(TransitionPhase.Legacy);
        await FourInstancesAtCurrentEpochAsync();
        var store = Control.Services.GetRequiredService<PhaseStore>();
        var before = await store.ReadAsync(CancellationToken.None);

        // A write of the machines service, held open inside its transaction (the test is the hook).
        await using var scope = fleet.Machines.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<FleetDbContext>();
        await using var tx = await db.Database.BeginTransactionAsync();
        var id = "cm_fence_" + Guid.NewGuid().ToString("N")[..8];
        await db.Database.ExecuteSqlAsync($"""
            INSERT INTO custom_machines (id, ipv4, port, shared_key, user_id, created_at, updated_at)
            VALUES ({id}, '198.51.100.7', 22, 'fence-key-0123456789', 'fence', now(), now())
            """);

        var flip = store.FlipAsync(TransitionPhase.DualWrite, before.Epoch, "ops", "fence test", false, [], CancellationToken.None);
        await Eventually.TrueAsync(async () => await ScalarAsync(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'") >= 1,
            TimeSpan.FromSeconds(10), "the flip never waited on the phase lock");
        Assert.False(flip.IsCompleted, "the flip committed while a write of the old epoch was open");
        Assert.Equal(before.Epoch, await ScalarAsync("SELECT epoch FROM migration_phase"));

        await tx.CommitAsync();
        var after = await flip;

        Assert.Equal(TransitionPhase.DualWrite, after!.Phase);
        // The write committed whole in the old mode (Legacy: no Machine row), not half in each.
        Assert.Equal(1, await ScalarAsync("SELECT count(*) FROM custom_machines WHERE id = @id", ("id", id)));
        Assert.Equal(0, await ScalarAsync("SELECT count(*) FROM machines WHERE id = fleet_machine_id('custom', @id)", ("id", id)));
    }

    [Fact]
    public async Task Unsafe_flips_are_refused_with_every_failing_gate_listed_audited_and_open_once_the_gates_pass()
    {
        await EnsurePhaseAsync(TransitionPhase.DualWrite);
        await FourInstancesAtCurrentEpochAsync();

        var skip = await FlipAsync("MachineOnly", force: true);
        var unsafeFlip = await FlipAsync("MachineRead");

        Assert.Equal(HttpStatusCode.Conflict, skip.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, unsafeFlip.StatusCode);
        var failing = (await unsafeFlip.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("failing").EnumerateArray().Select(g => g.GetString()).ToList();
        Assert.Contains("backfill-after-dual-write", failing);
        Assert.Contains("clean-verification-after-backfill", failing);
        Assert.DoesNotContain("instances-can-run-target", failing);
        Assert.Equal("DualWrite", await StringAsync("SELECT phase FROM migration_phase"));
        var history = await Operator().GetFromJsonAsync<List<PhaseHistoryEntry>>("/api/migration/history?limit=2");
        Assert.All(history!, h => Assert.Equal("refused", h.Outcome));
        Assert.Contains(history!, h => h.To == "MachineRead" && h.Gates.Any(g => g.Gate == "backfill-after-dual-write" && !g.Passed));

        // A backfill started now (every instance dual-writes) and a clean full verification after it open the gate.
        (await Operator().PostAsync("/api/migration/backfill/start", null)).EnsureSuccessStatusCode();
        await Eventually.TrueAsync(async () => (await Operator().GetFromJsonAsync<MigrationStatus>("/api/migration"))!.Backfill.State == "done",
            TimeSpan.FromSeconds(30), "the backfill did not finish");
        var verification = await (await Operator().PostAsync("/api/migration/verify", null)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(verification.GetProperty("clean").GetBoolean(), verification.GetRawText());
        var machineRead = await FlipAsync("MachineRead");
        Assert.Equal(HttpStatusCode.OK, machineRead.StatusCode);

        // MachineOnly: every build can run it, but the fleet has not been quiet in MachineRead for the quiet period.
        await FourInstancesAtCurrentEpochAsync();
        var machineOnly = await FlipAsync("MachineOnly", reason: "too early");
        Assert.Equal(HttpStatusCode.Conflict, machineOnly.StatusCode);
        var refusedBy = (await machineOnly.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("failing").EnumerateArray().Select(g => g.GetString()).ToList();
        Assert.Equal(["quiet-period-clean"], refusedBy);
        Assert.Equal("MachineRead", await StringAsync("SELECT phase FROM migration_phase"));
    }

    [Fact]
    public async Task Force_overrides_a_failing_safety_gate_and_the_audit_says_so()
    {
        await EnsurePhaseAsync(TransitionPhase.DualWrite);
        // An instance that is alive but stuck on an old epoch: the acknowledgement gate fails.
        await ExecuteAsync("""
            INSERT INTO migration_instances (instance_id, service, build, capabilities, epoch, expires_at)
            VALUES ('stuck-1', 'agents', 'test', ARRAY['dual-write'], 0, now() + interval '1 hour')
            """);
        try
        {
            var refused = await FlipAsync("Legacy");
            var forced = await FlipAsync("Legacy", force: true, reason: "instance stuck-1 is wedged; rolling back");

            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Equal(HttpStatusCode.OK, forced.StatusCode);
            var last = (await Operator().GetFromJsonAsync<List<PhaseHistoryEntry>>("/api/migration/history?limit=1"))!.Single();
            Assert.True(last.Forced);
            Assert.Equal("flipped", last.Outcome);
            Assert.Equal("ops", last.Actor);
            Assert.Contains(last.Gates, g => g.Gate == "instances-acknowledged" && !g.Passed);
        }
        finally
        {
            await ExecuteAsync("DELETE FROM migration_instances WHERE instance_id = 'stuck-1'");
        }
    }

    [Fact]
    public async Task Bad_flip_requests_are_400_and_users_are_403()
    {
        using var user = Control.ClientFor(TestTokens.User("mallory"));

        Assert.Equal(HttpStatusCode.BadRequest, (await FlipAsync("dualwrite")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await FlipAsync("Steady")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await FlipAsync("DualWrite", reason: " ")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Operator().GetAsync("/api/migration/history?limit=0")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await user.PostAsJsonAsync("/api/migration/phase", new PhaseFlipRequest("DualWrite", "x"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await user.GetAsync("/api/migration/history")).StatusCode);
    }

    [Fact]
    public async Task The_status_shows_phase_epoch_gates_and_instances()
    {
        await FourInstancesAtCurrentEpochAsync();

        var status = await Operator().GetFromJsonAsync<MigrationStatus>("/api/migration");

        Assert.Equal(status!.Phase, status.Phases.Phase);
        Assert.Equal(await ScalarAsync("SELECT epoch FROM migration_phase"), status.Epoch);
        Assert.Equal(4, status.Phases.Instances.Count);
        Assert.All(status.Phases.Instances, i => Assert.Contains(PhaseRules.Capabilities.DualWrite, i.Capabilities));
        Assert.NotNull(status.Phases.Next);
        Assert.Contains(status.Phases.Next!.Gates, g => g.Gate == "instances-acknowledged");
    }

    /// <summary>Tests share one database: walk to the phase a test starts from, one forced step at a time.</summary>
    private async Task EnsurePhaseAsync(TransitionPhase target)
    {
        var store = Control.Services.GetRequiredService<PhaseStore>();
        for (var current = await store.ReadAsync(CancellationToken.None); current.Phase != target; current = await store.ReadAsync(CancellationToken.None))
        {
            var step = current.Phase < target ? current.Phase + 1 : current.Phase - 1;
            await store.FlipAsync(step, current.Epoch, "test-setup", "reset between tests", true, [], CancellationToken.None);
        }
    }

}

public sealed class PhasePinTests
{
    [Fact]
    public async Task A_local_pin_seeds_a_fresh_database_and_an_instance_pinned_otherwise_refuses_to_start()
    {
        var database = await (await TestPostgres.GetAsync()).CreateDatabaseAsync("phasepin");
        Dictionary<string, string?> Pinned(string phase) => new()
        {
            ["environment"] = "Development",
            ["MachineTransition:PinnedPhase"] = phase,
            ["Pool:ReconcilerEnabled"] = "false",
        };

        await using (var first = new FleetServiceFactory<FleetAspire.Agents.Apis.AgentResponse>(database, null, Pinned("DualWrite")))
        {
            _ = first.Server;
        }

        await using var second = new FleetServiceFactory<FleetAspire.Agents.Apis.AgentResponse>(database, null, Pinned("Legacy"));
        var refused = Record.Exception(() => second.Server);

        Assert.Equal("DualWrite", await Sql.StringAsync(database, "SELECT phase FROM migration_phase"));
        Assert.Equal("seeded", await Sql.StringAsync(database, "SELECT outcome FROM migration_phase_history ORDER BY id DESC LIMIT 1"));
        Assert.NotNull(refused);
        Assert.Contains("refusing to start", refused.ToString(), StringComparison.Ordinal);
    }
}
