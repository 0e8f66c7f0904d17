using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Data.MachineTransition.Repair;
using FleetAspire.Data.Writes;
using FleetAspire.Machines.Application;
using FleetAspire.Migration.Apis;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace FleetAspire.Transition.Tests;

/// <summary>A fleet with short phase settings and bounds small enough for tests to reach them.</summary>
public sealed class OperatorProofFleet : PhaseFleet
{
    protected override Dictionary<string, string?> Settings { get; } = new()
    {
        ["Pool:ReconcilerEnabled"] = "false",
        ["HealthChecks:SweeperEnabled"] = "false",
        ["MachineTransition:PollInterval"] = "00:00:00.200",
        ["MachineTransition:FenceLockTimeout"] = "00:00:00.300",
    };

    protected override Dictionary<string, string?>? ControlSettings => new()
    {
        ["Backfill:Pause"] = "00:00:00",
        ["Verification:IncrementalInterval"] = "00:00:00",
        ["Fallback:Enabled"] = "false",
        ["Phases:QuietPeriod"] = "00:00:00.500",
        ["Phases:FlipLockTimeout"] = "00:00:00.200",
        ["Phases:FlipAttempts"] = "3",
        ["Repair:MaxItems"] = "3",
    };
}

/// <summary>
/// What an outside operator met on a walk to Contracted, each pinned by a test that failed before its fix: gates that
/// judge what is open, control routes that answer 409 where they mean nothing, dirty rows paged, filtered and resolved
/// by class, children that always name an existing machine, writes fenced across all their transactions, bounded
/// waits, loops that survive what they do not expect.
/// </summary>
public sealed class OperatorProofTests(OperatorProofFleet fleet) : IClassFixture<OperatorProofFleet>
{
    private HttpClient Operator() => fleet.Control.ClientFor(TestTokens.Operator("ops"));

    private async Task<GateResult> GateAsync(string gate)
    {
        var status = await Operator().GetFromJsonAsync<MigrationStatus>("/api/migration");
        return status!.Phases.Next!.Gates.Single(g => g.Gate == gate);
    }

    private async Task BackfillAndVerifyAsync()
    {
        (await Operator().PostAsync("/api/migration/backfill/start", null)).EnsureSuccessStatusCode();
        await Eventually.TrueAsync(async () => (await Operator().GetFromJsonAsync<MigrationStatus>("/api/migration"))!.Backfill.State == BackfillStates.Done,
            TimeSpan.FromSeconds(30), "the backfill did not finish");
        (await Operator().PostAsync("/api/migration/verify", null)).EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task The_quiet_period_judges_what_is_open_not_every_divergence_ever_seen()
    {
        await fleet.WalkToAsync(TransitionPhase.MachineRead);
        await fleet.ExecuteAsync("UPDATE migration_divergences SET resolved_at = now() WHERE resolved_at IS NULL");
        // Seen and repaired inside the window (a race read mid-way, or a repair): before, one such record closed the gate
        // for good.
        await fleet.ExecuteAsync("""
            INSERT INTO migration_divergences (entity, entity_id, field, kind, source, first_seen, last_seen, resolved_at)
            VALUES ('machines', 'mh_quiet', 'ipv4', 'field-mismatch', 'shadow', now(), now(), now())
            """);
        await Eventually.TrueAsync(async () => (await GateAsync("quiet-period-clean")).Detail.Contains("run one now", StringComparison.Ordinal)
                                               || (await GateAsync("quiet-period-clean")).Detail.Contains("no clean full verification", StringComparison.Ordinal),
            TimeSpan.FromSeconds(5), "a scan older than the last divergence passed the gate");

        // A clean full verification after it (recorded as the verifier records one: this shared database holds what
        // other tests' forced walks left, which a real scan would report).
        await fleet.ExecuteAsync("""
            INSERT INTO migration_verifications (mode, started_at, finished_at, changes_checked, open_total, open_by_kind, change_cursor_txid, change_cursor_id)
            SELECT 'full', now(), now(), 0, 0, '{}'::jsonb, coalesce(max(change_cursor_txid), 0), coalesce(max(change_cursor_id), 0) FROM migration_verifications
            """);
        var afterScan = await GateAsync("quiet-period-clean");

        await fleet.ExecuteAsync("""
            INSERT INTO migration_divergences (entity, entity_id, field, kind, source, first_seen, last_seen)
            VALUES ('machines', 'mh_quiet_open', 'port', 'field-mismatch', 'shadow', now(), now())
            """);
        var withOpen = await GateAsync("quiet-period-clean");
        await fleet.ExecuteAsync("UPDATE migration_divergences SET resolved_at = now() WHERE resolved_at IS NULL");

        Assert.True(afterScan.Passed, afterScan.Detail);
        Assert.False(withOpen.Passed);
        Assert.Contains("open", withOpen.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_restarted_instance_does_not_close_the_backfill_gate_but_one_that_ran_the_earlier_epoch_does()
    {
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
        await BackfillAndVerifyAsync();
        Assert.True((await GateAsync("backfill-after-dual-write")).Passed);
        var store = fleet.Control.Services.GetRequiredService<PhaseStore>();
        var epoch = (await store.ReadAsync(CancellationToken.None)).Epoch;

        // A process started after the flip (a restart, a new replica) ran DualWrite from its first request.
        var restarted = new InstanceRegistration("agents-restarted", "agents", "test", [PhaseRules.Capabilities.DualWrite, PhaseRules.Capabilities.MachineRead]);
        await store.HeartbeatAsync(restarted, epoch, TimeSpan.FromSeconds(30), CancellationToken.None);
        var afterRestart = await GateAsync("backfill-after-dual-write");
        // One that acknowledges this epoch only now ran the earlier one until now: its writes may have escaped the backfill.
        var late = new InstanceRegistration("agents-late", "agents", "test", [PhaseRules.Capabilities.DualWrite, PhaseRules.Capabilities.MachineRead]);
        await store.HeartbeatAsync(late, epoch - 1, TimeSpan.FromSeconds(30), CancellationToken.None);
        await Task.Delay(TimeSpan.FromMilliseconds(20)); // acknowledgement times must differ by more than the clock's resolution
        await store.HeartbeatAsync(late, epoch, TimeSpan.FromSeconds(30), CancellationToken.None);
        var afterLate = await GateAsync("backfill-after-dual-write");
        await fleet.ExecuteAsync("DELETE FROM migration_instances WHERE instance_id IN ('agents-restarted', 'agents-late')");

        Assert.True(afterRestart.Passed, afterRestart.Detail);
        Assert.False(afterLate.Passed);
    }

    [Theory]
    [InlineData(TransitionPhase.Legacy, "/api/migration/backfill/start")]
    [InlineData(TransitionPhase.Legacy, "/api/migration/verify")]
    [InlineData(TransitionPhase.Legacy, "/api/migration/repair")]
    [InlineData(TransitionPhase.MachineOnly, "/api/migration/verify")]
    [InlineData(TransitionPhase.MachineOnly, "/api/migration/backfill/start")]
    [InlineData(TransitionPhase.MachineOnly, "/api/migration/backfill/resume")]
    [InlineData(TransitionPhase.MachineOnly, "/api/migration/backfill/catch-up")]
    [InlineData(TransitionPhase.MachineOnly, "/api/migration/repair")]
    public async Task A_control_route_outside_the_phases_where_it_means_something_is_409_and_does_nothing(TransitionPhase phase, string route)
    {
        await fleet.WalkToAsync(phase);
        var verifications = await fleet.ScalarAsync("SELECT count(*) FROM migration_verifications");
        var backfill = await fleet.StringAsync("SELECT coalesce(max(started_at)::text, '') FROM migration_backfill");

        var response = await Operator().PostAsJsonAsync(route, new { });

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(phase.ToString(), problem.GetProperty("phase").GetString());
        Assert.NotEmpty(problem.GetProperty("allowedIn").EnumerateArray());
        Assert.Equal(verifications, await fleet.ScalarAsync("SELECT count(*) FROM migration_verifications"));
        Assert.Equal(backfill, await fleet.StringAsync("SELECT coalesce(max(started_at)::text, '') FROM migration_backfill"));
    }

    [Fact]
    public async Task Dirty_rows_are_keyset_paged_filtered_and_resolved_by_class_with_an_audit_and_the_decision_survives_a_rescan()
    {
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
        await fleet.ExecuteAsync("""
            INSERT INTO custom_machines (id, ipv4, port, shared_key, user_id, created_at, updated_at)
            SELECT 'cm_page_' || i, '300.0.0.' || i, 2200, 'k-page-' || i, 'pager', now(), now() FROM generate_series(1, 7) i;
            INSERT INTO custom_machines (id, ipv4, port, shared_key, user_id, created_at, updated_at)
            SELECT 'cm_port_' || i, '198.51.100.' || i, 0, 'k-port-' || i, 'pager', now(), now() FROM generate_series(1, 3) i;
            """);
        await BackfillAndVerifyAsync();

        var all = await DirtyReports.AllAsync(Operator(), "state=open&entity=custom_machines", pageSize: 2);
        var invalid = await DirtyReports.AllAsync(Operator(), "class=invalid-ipv4&entity=custom_machines", pageSize: 3);
        Assert.Equal(all.Count, all.Select(r => (r.Class, r.EntityId)).Distinct().Count());
        Assert.Equal(7, all.Count(r => r.EntityId.StartsWith("cm_page_", StringComparison.Ordinal) && r.Class == "invalid-ipv4"));
        Assert.Equal(3, all.Count(r => r.EntityId.StartsWith("cm_port_", StringComparison.Ordinal) && r.Class == "invalid-port"));
        Assert.All(invalid, r => Assert.Equal("invalid-ipv4", r.Class));
        Assert.All(all, r => Assert.Equal(DirtyHandling.Operator, r.Handling));
        foreach (var bad in new[] { "?class=nope", "?state=maybe", "?handling=someone", "?entity=users", "?limit=0", "?limit=1001", "?after=%25%25" })
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await Operator().GetAsync("/api/migration/dirty" + bad)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.BadRequest, (await Operator().PostAsJsonAsync("/api/migration/dirty/resolve-all",
            new DirtyBulkResolution(null, null, "everything goes"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Operator().PostAsJsonAsync("/api/migration/dirty/resolve-all",
            new DirtyBulkResolution("invalid-port", null, " "))).StatusCode);
        var resolve = await Operator().PostAsJsonAsync("/api/migration/dirty/resolve-all",
            new DirtyBulkResolution("invalid-port", "custom_machines", "ports of decommissioned hosts: the machines go with the contract"));
        Assert.Equal(HttpStatusCode.OK, resolve.StatusCode);
        Assert.Equal(3, (await resolve.Content.ReadFromJsonAsync<DirtyBulkResolved>())!.Resolved);
        Assert.Equal(HttpStatusCode.NotFound, (await Operator().PostAsJsonAsync("/api/migration/dirty/resolve-all",
            new DirtyBulkResolution("invalid-port", "custom_machines", "again"))).StatusCode);
        Assert.Equal(1, await fleet.ScalarAsync("""
            SELECT count(*) FROM migration_dirty_resolutions
            WHERE actor = 'ops' AND resolved = 3 AND filter ->> 'class' = 'invalid-port' AND resolution LIKE 'ports of decommissioned%'
            """));
        Assert.Empty(await DirtyReports.AllAsync(Operator(), "state=open&class=invalid-port"));

        // The same rows scanned again, unchanged: the recorded decision stands (before, a rescan reopened every report).
        await BackfillAndVerifyAsync();
        Assert.Empty(await DirtyReports.AllAsync(Operator(), "state=open&class=invalid-port"));
        Assert.Equal(7, (await DirtyReports.AllAsync(Operator(), "state=open&class=invalid-ipv4&entity=custom_machines"))
            .Count(r => r.EntityId.StartsWith("cm_page_", StringComparison.Ordinal)));
        await fleet.ExecuteAsync("DELETE FROM custom_machines WHERE id LIKE 'cm_page_%' OR id LIKE 'cm_port_%'");
    }

    [Fact]
    public async Task Orphaned_children_are_handled_by_the_contract_closed_by_the_flip_into_MachineOnly_not_by_an_operator()
    {
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
        await fleet.ExecuteAsync("""
            INSERT INTO machine_snapshots (id, machine_id, status, created_at, user_id, is_final)
            VALUES ('snap_released_server', '77700001', 'available', now(), 'alice', true)
            """);
        await BackfillAndVerifyAsync();
        var report = Assert.Single(await DirtyReports.AllAsync(Operator(), "state=open&handling=tombstone"), r => r.EntityId == "snap_released_server");
        Assert.Equal(DirtyClasses.OrphanSnapshot, report.Class);

        await fleet.WalkToAsync(TransitionPhase.MachineOnly);

        var closed = Assert.Single(await DirtyReports.AllAsync(Operator(), "class=orphan-snapshot"), r => r.EntityId == "snap_released_server");
        Assert.NotNull(closed.ResolvedAt);
        Assert.Equal("fleetaspire/link-children", closed.ResolvedBy);
        Assert.Equal(1, await fleet.ScalarAsync("""
            SELECT count(*) FROM machine_snapshots s JOIN machines m ON m.id = s.machine_ref AND m.status = 'destroyed'
            WHERE s.id = 'snap_released_server'
            """));
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
        await fleet.ExecuteAsync("DELETE FROM machine_snapshots WHERE id = 'snap_released_server'");
    }

    [Fact]
    public async Task A_missed_check_for_a_machine_released_since_the_sweep_read_it_is_not_written_so_no_child_names_a_removed_machine()
    {
        await fleet.WalkToAsync(TransitionPhase.MachineOnly);
        var agent = await fleet.AgentWithPoolMachineAsync("swept");
        await using var scope = fleet.Machines.Services.CreateAsyncScope();
        var writes = scope.ServiceProvider.GetRequiredService<IAssignmentWrites>();
        var recorder = scope.ServiceProvider.GetRequiredService<HealthRecorder>();
        var strategy = scope.ServiceProvider.GetRequiredService<FleetDbContext>().Database.CreateExecutionStrategy();
        // The sweep read its silent holders (everyone, by a cutoff in the future)...
        var holder = (await writes.SilentAsync(DateTimeOffset.UtcNow.AddHours(1), 10_000, CancellationToken.None))
            .Single(h => h.AgentId == agent.Id);
        // ...then the agent released its machine, which had no children: the row went.
        using (var client = fleet.AgentsAs(TestTokens.User("swept")))
        {
            (await client.PostAsync($"/api/agents/{agent.Id}/release", null)).EnsureSuccessStatusCode();
        }

        Assert.Equal(0, await fleet.ScalarAsync("SELECT count(*) FROM machines WHERE id = @m", ("m", holder.MachineRef!)));

        var recorded = await strategy.ExecuteAsync(() => recorder.RecordAsync(holder, HealthOutcome.Missed, null, null, CancellationToken.None));

        Assert.Equal(HealthRecord.NotHeld, recorded);
        Assert.Equal(0, await fleet.ScalarAsync("SELECT count(*) FROM machine_health_checks WHERE machine_ref = @m", ("m", holder.MachineRef!)));
    }

    [Fact]
    public async Task A_write_that_opens_several_transactions_is_fenced_on_every_one_of_them()
    {
        await fleet.WalkToAsync(TransitionPhase.MachineRead);
        await using var scope = fleet.Agents.Services.CreateAsyncScope();
        var planner = scope.ServiceProvider.GetRequiredService<WritePlanner>();
        var db = scope.ServiceProvider.GetRequiredService<FleetDbContext>();
        var store = fleet.Control.Services.GetRequiredService<PhaseStore>();
        var plans = new List<TransitionPhase>();

        await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            plans.Add((await planner.ModeAsync()).Phase);
            await using (var first = await db.Database.BeginTransactionAsync())
            {
                await first.CommitAsync();
            }

            if (plans.Count == 1)
            {
                // The phase moves between the write's first and second transaction (a sweep's next machine).
                var current = await store.ReadAsync(CancellationToken.None);
                await store.FlipAsync(TransitionPhase.MachineOnly, current.Epoch, "test", "between two transactions", true, [], CancellationToken.None);
            }

            await using var second = await db.Database.BeginTransactionAsync();
            await second.CommitAsync();
        });

        // Refused at the second transaction and planned again in the new phase: before, only the first was checked and
        // the second ran as planned for legacy in MachineOnly.
        Assert.Equal([TransitionPhase.MachineRead, TransitionPhase.MachineOnly], plans);
    }

    [Fact]
    public async Task A_write_that_cannot_take_the_fence_in_time_is_503_with_retry_after_not_a_stall()
    {
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
        using var agents = fleet.AgentsAs(TestTokens.User("fenced"));
        await using var stuck = new NpgsqlConnection(fleet.Database);
        await stuck.OpenAsync();
        await using var tx = await stuck.BeginTransactionAsync();
        // A flip that holds the fence (stuck): every write waits at most the fence's lock timeout.
        await using (var hold = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({PhaseStore.FenceLockKey})", stuck, tx))
        {
            await hold.ExecuteNonQueryAsync();
        }

        var clock = Stopwatch.StartNew();
        var refused = await agents.PostAsJsonAsync("/api/agents", new { name = "blocked" });
        var waited = clock.Elapsed;
        await tx.RollbackAsync();
        var accepted = await agents.PostAsJsonAsync("/api/agents", new { name = "free" });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.True(waited < TimeSpan.FromSeconds(5), $"waited {waited.TotalSeconds:0.0} s");
        Assert.Equal(HttpStatusCode.Created, accepted.StatusCode);
        Assert.Equal(0, await fleet.ScalarAsync("SELECT count(*) FROM agents WHERE user_id = 'fenced' AND name = 'blocked'"));
    }

    [Fact]
    public async Task A_flip_behind_a_slow_writer_gives_up_with_503_and_never_stalls_other_writers_for_long()
    {
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
        await fleet.ExecuteAsync("DELETE FROM migration_instances WHERE expires_at < now()");
        await using var slow = new NpgsqlConnection(fleet.Database);
        await slow.OpenAsync();
        await using var tx = await slow.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand($"SELECT pg_advisory_xact_lock_shared({PhaseStore.FenceLockKey})", slow, tx))
        {
            await hold.ExecuteNonQueryAsync();
        }

        var flip = Operator().PostAsJsonAsync("/api/migration/phase", new PhaseFlipRequest("Legacy", "behind a slow writer", Force: true));
        using var agents = fleet.AgentsAs(TestTokens.User("not-stalled"));
        var longest = TimeSpan.Zero;
        while (!flip.IsCompleted)
        {
            var clock = Stopwatch.StartNew();
            (await agents.PostAsJsonAsync("/api/agents", new { name = "during" })).EnsureSuccessStatusCode();
            longest = clock.Elapsed > longest ? clock.Elapsed : longest;
        }

        var refused = await flip;
        await tx.RollbackAsync();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Equal("DualWrite", await fleet.StringAsync("SELECT phase FROM migration_phase"));
        Assert.True(longest < TimeSpan.FromSeconds(2), $"a writer waited {longest.TotalSeconds:0.0} s behind the flip");
    }

    [Fact]
    public async Task A_repair_is_bounded_and_says_how_many_remain()
    {
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
        await fleet.ExecuteAsync("UPDATE migration_divergences SET resolved_at = now() WHERE resolved_at IS NULL");
        await fleet.ExecuteAsync("""
            INSERT INTO migration_divergences (entity, entity_id, field, kind, source, first_seen, last_seen)
            SELECT 'machines', 'mh_bounded_' || i, 'port', 'field-mismatch', 'verifier', now(), now() FROM generate_series(1, 5) i
            """);

        var report = await (await Operator().PostAsJsonAsync("/api/migration/repair", new RepairRequest(false))).Content.ReadFromJsonAsync<RepairReport>();

        Assert.Equal((3, 2L), (report!.Items.Count, report.Remaining));
        await fleet.ExecuteAsync("UPDATE migration_divergences SET resolved_at = now() WHERE resolved_at IS NULL");
    }

    [Fact]
    public async Task A_stored_phase_this_build_cannot_read_stops_no_host_and_every_instance_follows_again_once_it_is_fixed()
    {
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
        await fleet.ExecuteAsync("ALTER TABLE migration_phase DROP CONSTRAINT migration_phase_phase_check");
        try
        {
            // What a newer build could write: a phase this one does not know. Every watcher, the monitor and the
            // automatic fallback read it and throw something other than a database error.
            await fleet.ExecuteAsync("UPDATE migration_phase SET phase = 'Shadowless', epoch = epoch + 1");
            var epoch = await fleet.ScalarAsync("SELECT epoch FROM migration_phase");
            await Eventually.TrueAsync(async () => await fleet.ScalarAsync(
                "SELECT count(*) FROM migration_instances WHERE expires_at > now() AND last_seen < now() - interval '1 second'") > 0,
                TimeSpan.FromSeconds(10), "the watchers did not meet the unknown phase");
            foreach (var client in new[] { fleet.AgentsAs(null), fleet.MachinesAs(null), fleet.Pool.ClientFor(null), fleet.Control.ClientFor(null) })
            {
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/alive")).StatusCode);
            }

            await fleet.ExecuteAsync("UPDATE migration_phase SET phase = 'DualWrite', epoch = epoch + 1");
            await Eventually.TrueAsync(async () => await fleet.ScalarAsync(
                    "SELECT count(*) FROM migration_instances WHERE expires_at > now() AND epoch = @e", ("e", epoch + 1)) >= 4,
                TimeSpan.FromSeconds(20), "the services did not follow the phase once it was readable again");
        }
        finally
        {
            await fleet.ExecuteAsync("""
                UPDATE migration_phase SET phase = 'DualWrite' WHERE phase NOT IN ('Legacy', 'DualWrite', 'MachineRead', 'MachineOnly', 'Contracted');
                ALTER TABLE migration_phase ADD CONSTRAINT migration_phase_phase_check
                    CHECK (phase IN ('Legacy', 'DualWrite', 'MachineRead', 'MachineOnly', 'Contracted'));
                """);
        }
    }
}
