using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FleetAspire.Contracts.Pool;
using FleetAspire.Data;
using FleetAspire.Data.MachineTransition;
using FleetAspire.Data.MachineTransition.DualWrite;
using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Data.MachineTransition.Verification;
using FleetAspire.Data.Writes;
using FleetAspire.Migration.Apis;
using FleetAspire.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace FleetAspire.Transition.Tests;

/// <summary>A fleet of its own: these tests walk every phase, MachineOnly included.</summary>
public sealed class WriteMatrixFleet : PhaseFleet;

/// <summary>
/// The mode matrix for writes: every write path, driven through the APIs, gives the same observable result in each of
/// the four phases, and lands in the representations the phase maintains (and only those).
/// </summary>
public sealed class WritesAcrossPhasesTests(WriteMatrixFleet fleet) : IClassFixture<WriteMatrixFleet>
{
    public static TheoryData<TransitionPhase> Phases => new(TransitionPhase.Legacy, TransitionPhase.DualWrite, TransitionPhase.MachineRead, TransitionPhase.MachineOnly);

    private Task<long> ScalarAsync(string sql, params (string Name, object Value)[] parameters) => fleet.ScalarAsync(sql, parameters);

    [Theory]
    [MemberData(nameof(Phases))]
    public async Task Every_write_path_answers_the_same_in_every_phase(TransitionPhase phase)
    {
        await fleet.WalkToAsync(phase);
        var user = "writer-" + phase;
        using var agents = fleet.AgentsAs(TestTokens.User(user));
        using var machines = fleet.MachinesAs(TestTokens.User(user));
        using var snapshots = fleet.SnapshotsAs(TestTokens.User(user));

        // Pool: provision, claim, connect, snapshot.
        await fleet.ProvisionPoolAsync(1);
        var pool = await fleet.CreateAgentAsync(user);
        var claimed = await (await agents.PostAsync($"/api/agents/{pool.Id}/claim", null)).Content.ReadFromJsonAsync<JsonElement>();
        var providerId = claimed.GetProperty("machineId").GetString()!;
        Assert.Equal("hetzner", claimed.GetProperty("machineType").GetString());
        Assert.Equal("in_use", claimed.GetProperty("machine").GetProperty("status").GetString());
        Assert.Equal(providerId, claimed.GetProperty("machine").GetProperty("providerId").GetString());
        // The claim's answer is built from what its statement returned, never read back: it must be what a read shows.
        var read = await agents.GetFromJsonAsync<JsonElement>($"/api/agents/{pool.Id}");
        Assert.Equal(read.GetProperty("machine").GetRawText(), claimed.GetProperty("machine").GetRawText());
        Assert.Equal(HttpStatusCode.Conflict, (await agents.PostAsync($"/api/agents/{pool.Id}/claim", null)).StatusCode);
        var connection = await agents.GetFromJsonAsync<JsonElement>($"/api/agents/{pool.Id}/connection");
        Assert.Equal(claimed.GetProperty("machineIpv4").GetString(), connection.GetProperty("ipv4").GetString());
        Assert.False(string.IsNullOrEmpty(connection.GetProperty("sharedKey").GetString()));
        var snapshot = await snapshots.PostAsJsonAsync("/api/snapshots", new { agentId = pool.Id });
        Assert.Equal(HttpStatusCode.Created, snapshot.StatusCode);
        Assert.Single(await snapshots.GetFromJsonAsync<List<JsonElement>>($"/api/snapshots?machineId={providerId}") ?? []);

        // Custom: register (and a duplicate), update, assign, heartbeat, refuse delete while assigned, release, delete.
        var ipv4 = $"198.51.100.{10 + (int)phase}";
        var (machine, key) = await fleet.RegisterMachineAsync(user, ipv4, port: 2200);
        Assert.Equal(HttpStatusCode.Conflict, (await machines.PostAsJsonAsync("/api/machines/custom",
            new { ipv4, port = 2200, sharedKey = "another-key-0123456789" })).StatusCode);
        var updated = await machines.PatchAsJsonAsync($"/api/machines/custom/{machine.Id}", new { port = 2201 });
        Assert.Equal(2201, (await updated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("port").GetInt32());
        var holder = await fleet.CreateAgentAsync(user);
        var assigned = await machines.PostAsJsonAsync($"/api/machines/custom/{machine.Id}/assign", new { agentId = holder.Id });
        Assert.Equal(holder.Id, (await assigned.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("currentAgentId").GetString());
        var held = await agents.GetFromJsonAsync<JsonElement>($"/api/agents/{holder.Id}");
        Assert.Equal((machine.Id, ipv4, "custom"),
            (held.GetProperty("machineId").GetString(), held.GetProperty("machineIpv4").GetString(), held.GetProperty("machineType").GetString()));
        Assert.Equal(HttpStatusCode.Accepted, (await fleet.HeartbeatAsync(machine.Id, key, "healthy")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fleet.HeartbeatAsync(machine.Id, "wrong-key-0123456789", "healthy")).StatusCode);
        var checks = await machines.GetFromJsonAsync<List<JsonElement>>($"/api/machines/health?machineId={machine.Id}");
        Assert.Equal("healthy", Assert.Single(checks!).GetProperty("outcome").GetString());

        await AssertStoredInPhaseAsync(phase, holder.Id, machine.Id);

        Assert.Equal(HttpStatusCode.Conflict, (await machines.DeleteAsync($"/api/machines/custom/{machine.Id}")).StatusCode);
        var released = await machines.PostAsync($"/api/machines/custom/{machine.Id}/release", null);
        Assert.Equal(JsonValueKind.Null, (await released.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("currentAgentId").ValueKind);
        Assert.Equal(JsonValueKind.Null, (await agents.GetFromJsonAsync<JsonElement>($"/api/agents/{holder.Id}")).GetProperty("machine").ValueKind);
        Assert.Equal(HttpStatusCode.NoContent, (await machines.DeleteAsync($"/api/machines/custom/{machine.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await machines.GetAsync($"/api/machines/custom/{machine.Id}")).StatusCode);

        // Release the pool machine (the server is destroyed on the event), then delete an agent that holds one:
        // final snapshot, release and deletion run as the event flow.
        var afterRelease = await (await agents.PostAsync($"/api/agents/{pool.Id}/release", null)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(("idle", JsonValueKind.Null), (afterRelease.GetProperty("status").GetString(), afterRelease.GetProperty("machine").ValueKind));
        await Eventually.TrueAsync(async () => (await fleet.Cloud.GetServerAsync(providerId, CancellationToken.None)) is null,
            TimeSpan.FromSeconds(20), "the released server was not destroyed");
        await fleet.ProvisionPoolAsync(1);
        var doomed = await fleet.CreateAgentAsync(user);
        (await agents.PostAsync($"/api/agents/{doomed.Id}/claim", null)).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.Accepted, (await agents.DeleteAsync($"/api/agents/{doomed.Id}")).StatusCode);
        await Eventually.TrueAsync(async () => (await agents.GetAsync($"/api/agents/{doomed.Id}")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(20), "the deletion flow did not finish");
        Assert.Equal(1, await ScalarAsync("SELECT count(*) FROM machine_snapshots WHERE agent_id = @a AND is_final", ("a", doomed.Id)));
        Assert.Equal(HttpStatusCode.NoContent, (await agents.DeleteAsync($"/api/agents/{holder.Id}")).StatusCode);
        await fleet.ExecuteAsync("UPDATE pool_settings SET target_size = 0");
    }

    /// <summary>Where the assignment is stored: legacy only, both, or Machine only — as the phase says.</summary>
    private async Task AssertStoredInPhaseAsync(TransitionPhase phase, string agentId, string machineId)
    {
        var legacy = await ScalarAsync("""
            SELECT count(*) FROM agents a JOIN custom_machines c ON c.id = a.machine_id AND c.current_agent_id = a.id
            WHERE a.id = @a AND a.machine_type = 'custom' AND c.id = @m
            """, ("a", agentId), ("m", machineId));
        var machine = await ScalarAsync("""
            SELECT count(*) FROM agents a JOIN machines m ON m.id = a.machine_ref
            WHERE a.id = @a AND m.legacy_id = @m AND m.type = 'custom' AND m.status = 'in_use'
            """, ("a", agentId), ("m", machineId));
        var expected = phase switch
        {
            TransitionPhase.Legacy => (1, 0),
            TransitionPhase.MachineOnly => (0, 1),
            _ => (1, 1),
        };
        Assert.Equal(expected, ((int)legacy, (int)machine));
    }
}

/// <summary>Leaving MachineOnly: the reverse sync, then a clean verification before legacy is authoritative again.</summary>
public sealed class ReverseSyncTests(WriteMatrixFleet fleet) : IClassFixture<WriteMatrixFleet>
{
    private HttpClient Operator() => fleet.Control.ClientFor(TestTokens.Operator("ops"));

    [Fact]
    public async Task Inserts_updates_and_deletes_made_in_MachineOnly_reach_legacy_and_DualWrite_waits_for_a_clean_verification()
    {
        // Both sides complete in DualWrite: a custom machine to update, one to delete, one to keep assigned, a pool server.
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
        var (toUpdate, _) = await fleet.RegisterMachineAsync("rs", "203.0.113.1");
        var (toDelete, _) = await fleet.RegisterMachineAsync("rs", "203.0.113.2");
        var pooled = await fleet.AgentWithPoolMachineAsync("rs");
        await fleet.OutboxDrainedAsync();

        await fleet.WalkToAsync(TransitionPhase.MachineOnly);
        using var machines = fleet.MachinesAs(TestTokens.User("rs"));
        using var agents = fleet.AgentsAs(TestTokens.User("rs"));
        (await machines.PatchAsJsonAsync($"/api/machines/custom/{toUpdate.Id}", new { ipv4 = "203.0.113.11", sharedKey = "rotated-key-0123456789" })).EnsureSuccessStatusCode();
        (await machines.DeleteAsync($"/api/machines/custom/{toDelete.Id}")).EnsureSuccessStatusCode();
        var (inserted, _) = await fleet.RegisterMachineAsync("rs", "203.0.113.3");
        var holder = await fleet.CreateAgentAsync("rs");
        (await machines.PostAsJsonAsync($"/api/machines/custom/{inserted.Id}/assign", new { agentId = holder.Id })).EnsureSuccessStatusCode();
        (await agents.PostAsync($"/api/agents/{pooled.Id}/release", null)).EnsureSuccessStatusCode();
        var claimer = await fleet.AgentWithPoolMachineAsync("rs");
        await fleet.OutboxDrainedAsync();

        // Nothing of that reached legacy, and every change is marked.
        Assert.Equal(0, await fleet.ScalarAsync("SELECT count(*) FROM custom_machines WHERE id = @id", ("id", inserted.Id)));
        Assert.Equal("203.0.113.1", await fleet.StringAsync("SELECT ipv4 FROM custom_machines WHERE id = @id", ("id", toUpdate.Id)));
        Assert.True(await fleet.ScalarAsync("SELECT count(*) FROM machine_changes WHERE synced_at IS NULL") >= 6);

        // Back to MachineRead through the API: the flip runs the reverse sync under the fence.
        var back = await Operator().PostAsJsonAsync("/api/migration/phase", new PhaseFlipRequest("MachineRead", "roll back", false));
        Assert.Equal(HttpStatusCode.OK, back.StatusCode);
        Assert.Equal(0, await fleet.ScalarAsync("SELECT count(*) FROM machine_changes WHERE synced_at IS NULL"));
        Assert.Equal(1, await fleet.ScalarAsync("""
            SELECT count(*) FROM custom_machines c JOIN agents a ON a.id = c.current_agent_id
            WHERE c.id = @id AND a.machine_id = c.id AND a.machine_type = 'custom' AND a.machine_ipv4 = '203.0.113.3'
            """, ("id", inserted.Id)));
        Assert.Equal(1, await fleet.ScalarAsync(
            "SELECT count(*) FROM custom_machines WHERE id = @id AND ipv4 = '203.0.113.11' AND shared_key = 'rotated-key-0123456789'", ("id", toUpdate.Id)));
        Assert.Equal(0, await fleet.ScalarAsync("SELECT count(*) FROM custom_machines WHERE id = @id", ("id", toDelete.Id)));
        Assert.Equal(1, await fleet.ScalarAsync("SELECT count(*) FROM agents WHERE id = @id AND machine_id IS NULL AND status = 'idle'", ("id", pooled.Id)));
        Assert.Equal(1, await fleet.ScalarAsync("""
            SELECT count(*) FROM agents a JOIN machines m ON m.id = a.machine_ref
            WHERE a.id = @id AND a.machine_id = m.legacy_id AND a.machine_shared_key = m.shared_key
            """, ("id", claimer.Id)));
        var history = await Operator().GetFromJsonAsync<List<PhaseHistoryEntry>>("/api/migration/history?limit=1");
        Assert.Contains(history![0].Gates, g => g.Gate == "reverse-sync" && g.Passed);

        // DualWrite only after a full verification that started after the reverse sync is clean.
        await fleet.WalkToAsync(TransitionPhase.MachineRead);
        var early = await Operator().PostAsJsonAsync("/api/migration/phase", new PhaseFlipRequest("DualWrite", "too early", false));
        Assert.Equal(HttpStatusCode.Conflict, early.StatusCode);
        Assert.Contains("clean-verification-after-reverse-sync",
            (await early.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("failing").EnumerateArray().Select(g => g.GetString()));
        var verification = await (await Operator().PostAsync("/api/migration/verify", null)).Content.ReadFromJsonAsync<VerificationSummary>();
        Assert.True(verification!.Clean, string.Join(", ", verification.OpenByKind.Select(k => $"{k.Key}={k.Value}")));
        var dualWrite = await Operator().PostAsJsonAsync("/api/migration/phase", new PhaseFlipRequest("DualWrite", "verified", false));
        Assert.Equal(HttpStatusCode.OK, dualWrite.StatusCode);
    }
}

/// <summary>A write planned under one authority while a flip moves it to the other: refused by the fence, planned again, retried once.</summary>
public sealed class WritePlanRetryTests(WriteMatrixFleet fleet) : IClassFixture<WriteMatrixFleet>
{
    [Fact]
    public async Task A_write_planned_before_a_flip_is_retried_once_in_the_new_mode_and_a_second_move_is_503()
    {
        await fleet.WalkToAsync(TransitionPhase.MachineRead);
        var store = fleet.Control.Services.GetRequiredService<PhaseStore>();
        await using var scope = fleet.Machines.Services.CreateAsyncScope();
        var planner = scope.ServiceProvider.GetRequiredService<WritePlanner>();
        var db = scope.ServiceProvider.GetRequiredService<FleetDbContext>();
        var modes = new List<TransitionPhase>();

        // The flip commits after the plan and before the write's transaction: the fence sees another authority.
        var strategy = db.Database.CreateExecutionStrategy();
        var written = await strategy.ExecuteAsync(async () =>
        {
            var mode = await planner.ModeAsync();
            modes.Add(mode.Phase);
            if (modes.Count == 1)
            {
                var current = await store.ReadAsync(CancellationToken.None);
                await store.FlipAsync(TransitionPhase.MachineOnly, current.Epoch, "test", "flip under a planned write", true, [], CancellationToken.None);
            }

            await using var tx = await db.Database.BeginTransactionAsync();
            await tx.CommitAsync();
            return mode.Phase;
        });

        Assert.Equal([TransitionPhase.MachineRead, TransitionPhase.MachineOnly], modes);
        Assert.Equal(TransitionPhase.MachineOnly, written);

        // Moved again under the retry: the caller gets PhaseChangedException (a TimeoutException: 503 + Retry-After).
        var attempts = 0;
        await Assert.ThrowsAsync<PhaseChangedException>(() => strategy.ExecuteAsync(async () =>
        {
            await planner.ModeAsync();
            attempts++;
            var current = await store.ReadAsync(CancellationToken.None);
            var other = current.Phase == TransitionPhase.MachineOnly ? TransitionPhase.MachineRead : TransitionPhase.MachineOnly;
            await store.FlipAsync(other, current.Epoch, "test", "flip under a planned write", true, [], CancellationToken.None);
            await using var tx = await db.Database.BeginTransactionAsync();
            await tx.CommitAsync();
            return 0;
        }));
        Assert.Equal(2, attempts);
    }

    [Fact]
    public async Task A_machine_write_outside_a_unit_of_work_is_refused_before_it_plans_or_writes_and_a_read_outside_one_plans_nothing()
    {
        await fleet.WalkToAsync(TransitionPhase.MachineRead);
        var agent = await fleet.CreateAgentAsync("outside-unit");
        await using var scope = fleet.Agents.Services.CreateAsyncScope();
        var writes = scope.ServiceProvider.GetRequiredService<IAssignmentWrites>();
        var planner = scope.ServiceProvider.GetRequiredService<WritePlanner>();
        var db = scope.ServiceProvider.GetRequiredService<FleetDbContext>();
        var tracked = await db.Agents.SingleAsync(a => a.Id == agent.Id);

        // A read: answered from the current mode; nothing is planned, so a later unit is planned afresh.
        Assert.False(await writes.HoldsMachineAsync(tracked, CancellationToken.None));
        // A write: it could be neither checked against a plan nor retried, so it never starts.
        await Assert.ThrowsAsync<InvalidOperationException>(() => writes.ClaimPoolAsync(
            new ClaimRequest(agent.Id, "outside-unit", false, DateTimeOffset.UtcNow, Guid.CreateVersion7(), null), CancellationToken.None));
        Assert.Equal(0, await fleet.ScalarAsync("SELECT count(*) FROM outbox_messages WHERE aggregate_id = @a", ("a", agent.Id)));

        // The same inside a unit: planned there (for the legacy fields in MachineRead), and the plan ends with the unit.
        var planned = await db.Database.CreateExecutionStrategy().ExecuteAsync(async () => (await planner.ModeAsync()).WriteLegacy);
        Assert.True(planned);
        await Assert.ThrowsAsync<InvalidOperationException>(() => planner.ModeAsync());
    }

    [Fact]
    public async Task A_claim_batch_planned_before_a_flip_is_refused_by_its_own_fence_before_it_claims_and_runs_again_in_the_new_mode()
    {
        await fleet.WalkToAsync(TransitionPhase.MachineRead);
        await fleet.ProvisionPoolAsync(1); // dual-written: a ready pool machine in both representations
        var agent = await fleet.CreateAgentAsync("batch-fence");
        var store = fleet.Control.Services.GetRequiredService<PhaseStore>();
        await using var scope = fleet.Agents.Services.CreateAsyncScope();
        var writes = scope.ServiceProvider.GetRequiredService<IAssignmentWrites>();
        var planner = scope.ServiceProvider.GetRequiredService<WritePlanner>();
        var db = scope.ServiceProvider.GetRequiredService<FleetDbContext>();
        var request = new ClaimRequest(agent.Id, "batch-fence", false, DateTimeOffset.UtcNow, Guid.CreateVersion7(), null);
        var plannedLegacy = new List<bool>();

        // The claim is one batch: nothing can look at the fence's answer before the claim statement runs, so the
        // fence itself must refuse the epoch the claim was planned for.
        var claimed = await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            plannedLegacy.Add((await planner.ModeAsync()).WriteLegacy);
            if (plannedLegacy.Count == 1)
            {
                var current = await store.ReadAsync(CancellationToken.None);
                await store.FlipAsync(TransitionPhase.MachineOnly, current.Epoch, "test", "flip under a planned claim", true, [], CancellationToken.None);
            }

            return await writes.ClaimPoolAsync(request, CancellationToken.None);
        });

        // Planned for the legacy fields, refused, planned again for Machine.
        Assert.Equal([true, false], plannedLegacy);
        Assert.NotNull(claimed?.Machine.MachineRef);
        // Only the Machine claim ran: the legacy columns the refused attempt would have written are empty, one event.
        Assert.Equal(1, await fleet.ScalarAsync(
            "SELECT count(*) FROM agents WHERE id = @id AND machine_id IS NULL AND machine_ref = @m", ("id", agent.Id), ("m", claimed!.Machine.MachineRef!)));
        Assert.Equal(1, await fleet.ScalarAsync("SELECT count(*) FROM outbox_messages WHERE message_id = @m AND payload->>'machineId' = @ref",
            ("m", request.MessageId), ("ref", claimed.Machine.MachineRef!)));
    }

    [Fact]
    public async Task A_batch_that_committed_is_never_run_again_when_the_phase_moves_right_after_it()
    {
        await fleet.WalkToAsync(TransitionPhase.MachineRead);
        var store = fleet.Control.Services.GetRequiredService<PhaseStore>();
        await using var scope = fleet.Agents.Services.CreateAsyncScope();
        var fence = scope.ServiceProvider.GetRequiredService<IBatchFence>();
        var db = scope.ServiceProvider.GetRequiredService<FleetDbContext>();
        var resolver = scope.ServiceProvider.GetRequiredService<TransitionModeResolver>();
        await db.Database.OpenConnectionAsync();
        await using var batch = new NpgsqlBatch((NpgsqlConnection)db.Database.GetDbConnection());
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT 1"));

        // The batch has committed by the time its rows are read (the flip waits for its fence until then); the instance
        // follows the flip before the fence looks at the phase again. A throw now would make the planner write twice.
        var answer = await fence.RunAsync(batch, async reader =>
        {
            await reader.ReadAsync();
            var current = await store.ReadAsync(CancellationToken.None);
            await store.FlipAsync(TransitionPhase.MachineOnly, current.Epoch, "test", "flip right after a committed batch", true, [], CancellationToken.None);
            await Eventually.TrueAsync(async () => (await resolver.CurrentAsync()).Epoch != current.Epoch, TimeSpan.FromSeconds(5),
                "the instance did not follow the flip");
            return reader.GetInt32(0);
        }, CancellationToken.None);

        Assert.Equal(1, answer);
    }
}

/// <summary>The dual-write PostgreSQL runs at COMMIT: deployed as this build defines it, and it completes missing parents.</summary>
public sealed class DualWriteAtCommitTests(WriteMatrixFleet fleet) : IClassFixture<WriteMatrixFleet>
{
    [Fact]
    public async Task The_deployed_write_fence_sets_what_the_dual_write_and_the_backfill_read_and_takes_the_flip_lock()
    {
        var body = await fleet.StringAsync("SELECT prosrc FROM pg_proc WHERE proname = 'fleet_write_fence'");
        Assert.Contains($"'{MachineSync.DualWriteSetting}'", body);
        Assert.Contains($"'{FleetAspire.Data.MachineTransition.Backfill.MachineBackfill.WritesMachineSuffix}'", body);
        Assert.Contains($"pg_advisory_xact_lock_shared({PhaseStore.FenceLockKey})", body);
    }

    [Fact]
    public async Task The_deployed_dual_write_functions_are_the_ones_this_build_defines()
    {
        Assert.Equal(MachineSync.FunctionBody, await fleet.StringAsync("SELECT prosrc FROM pg_proc WHERE proname = @n", ("n", MachineSync.FunctionName)));
        Assert.Equal(MachineSync.TriggerFunctionBody,
            await fleet.StringAsync("SELECT prosrc FROM pg_proc WHERE proname = @n", ("n", MachineSync.TriggerFunctionName)));
    }

    [Fact]
    public async Task A_snapshot_and_a_heartbeat_for_a_machine_known_only_to_legacy_create_its_Machine_in_the_same_transaction()
    {
        // Held since Legacy (no backfill yet): the agent's machines exist only in the legacy fields.
        await fleet.WalkToAsync(TransitionPhase.Legacy);
        var pool = await fleet.AgentWithPoolMachineAsync("parents");
        var (custom, key) = await fleet.RegisterMachineAsync("parents", "198.51.100.77");
        var holder = await fleet.CreateAgentAsync("parents");
        using var machines = fleet.MachinesAs(TestTokens.User("parents"));
        (await machines.PostAsJsonAsync($"/api/machines/custom/{custom.Id}/assign", new { agentId = holder.Id })).EnsureSuccessStatusCode();
        Assert.Equal(0, await fleet.ScalarAsync("SELECT count(*) FROM machines WHERE legacy_id IN (@a, @b)", ("a", pool.MachineId!), ("b", custom.Id)));

        await fleet.WalkToAsync(TransitionPhase.DualWrite);
        using var snapshots = fleet.SnapshotsAs(TestTokens.User("parents"));
        Assert.Equal(HttpStatusCode.Created, (await snapshots.PostAsJsonAsync("/api/snapshots", new { agentId = pool.Id })).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await fleet.HeartbeatAsync(custom.Id, key, "healthy")).StatusCode);

        Assert.Equal(1, await fleet.ScalarAsync("""
            SELECT count(*) FROM machine_snapshots s JOIN machines m ON m.id = s.machine_ref
            WHERE s.agent_id = @a AND m.legacy_id = s.machine_id AND m.status = 'in_use'
            """, ("a", pool.Id)));
        Assert.Equal(1, await fleet.ScalarAsync("""
            SELECT count(*) FROM machine_health_checks h JOIN machines m ON m.id = h.machine_ref
            WHERE h.agent_id = @a AND m.legacy_id = @m AND m.type = 'custom'
            """, ("a", holder.Id), ("m", custom.Id)));
        Assert.Equal(0, await fleet.ScalarAsync("SELECT count(*) FROM migration_dirty_rows WHERE resolved_at IS NULL AND class LIKE 'orphan-%'"));
    }
}
