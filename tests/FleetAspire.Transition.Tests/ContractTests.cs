using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FleetAspire.Data.MachineTransition.Contract;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Data.Migrations;
using FleetAspire.Migration.Apis;

namespace FleetAspire.Transition.Tests;

/// <summary>A fleet of its own: the contract is one-way, so no other test may share its database.</summary>
public sealed class ContractFleet : PhaseFleet
{
    protected override Dictionary<string, string?>? ControlSettings => new()
    {
        ["Phases:ContractSoak"] = "00:00:03",
        ["Phases:QuietPeriod"] = "00:00:00",
    };
}

/// <summary>
/// Phases 3 and 4 of the seed: the gates of the one-way flip, the contract set applied by the control service, and
/// the services working on against the contracted schema — the agents API still serving the flat machine fields.
/// </summary>
public sealed class ContractTests(ContractFleet fleet) : IClassFixture<ContractFleet>
{
    private HttpClient Operator() => fleet.Control.ClientFor(TestTokens.Operator("ops"));

    private async Task<JsonElement> NextAsync() =>
        (await Operator().GetFromJsonAsync<JsonElement>("/api/migration")).GetProperty("phases").GetProperty("next");

    private static string[] Failing(JsonElement readiness) =>
        [.. readiness.GetProperty("gates").EnumerateArray().Where(g => !g.GetProperty("passed").GetBoolean()).Select(g => g.GetProperty("gate").GetString()!)];

    [Fact]
    public async Task Contracted_is_gated_one_way_drops_the_legacy_model_and_the_services_keep_working()
    {
        // Data from before the migration: a pool agent with a snapshot, a custom machine in use with a health check,
        // and a snapshot whose server was destroyed long ago (its legacy machine id names nothing).
        await fleet.WalkToAsync(TransitionPhase.DualWrite);
        var pooled = await fleet.AgentWithPoolMachineAsync("c1");
        using var snapshots = fleet.SnapshotsAs(TestTokens.User("c1"));
        Assert.Equal(HttpStatusCode.Created, (await snapshots.PostAsJsonAsync("/api/snapshots", new { agentId = pooled.Id })).StatusCode);
        var (custom, key) = await fleet.RegisterMachineAsync("c1", "198.51.100.40");
        var holder = await fleet.CreateAgentAsync("c1");
        using var machines = fleet.MachinesAs(TestTokens.User("c1"));
        (await machines.PostAsJsonAsync($"/api/machines/custom/{custom.Id}/assign", new { agentId = holder.Id })).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.Accepted, (await fleet.HeartbeatAsync(custom.Id, key, "healthy")).StatusCode);
        await fleet.ExecuteAsync("""
            INSERT INTO machine_snapshots (id, machine_id, status, created_at, user_id, is_final)
            VALUES ('snap_of_gone_server', '4242', 'available', now() - interval '90 days', 'c1', false)
            """);
        await fleet.OutboxDrainedAsync();

        // Entering MachineOnly links every child: the gone server gets a tombstone, invisible to the services.
        await fleet.WalkToAsync(TransitionPhase.MachineOnly);
        Assert.Equal("destroyed", await fleet.StringAsync("""
            SELECT m.status FROM machine_snapshots s JOIN machines m ON m.id = s.machine_ref WHERE s.id = 'snap_of_gone_server'
            """));
        Assert.Equal(0, await fleet.ScalarAsync($"SELECT s + h FROM ({ChildLinks.CountUnlinked}) u(s, h)"));

        // The gates: soak not over, a dirty row open, an instance that ran a legacy path and failed a write.
        var epoch = await fleet.ScalarAsync("SELECT epoch FROM migration_phase");
        await fleet.ExecuteAsync($"""
            INSERT INTO migration_dirty_rows (class, entity, entity_id, detail) VALUES ('invalid-ipv4', 'parked_machines', 'pm_dirty', 'ipv4 is not a dotted quad');
            INSERT INTO migration_instances (instance_id, service, build, capabilities, epoch, expires_at, legacy_path_at, write_error_at)
            VALUES ('agents-old-replica', 'agents', 'test', '{"{"}dual-write,machine-read,machine-only,contracted{"}"}', {epoch}, now() + interval '1 minute', now(), now());
            """);
        var next = await NextAsync();
        Assert.Equal(("Contracted", true), (next.GetProperty("target").GetString(), next.GetProperty("oneWay").GetBoolean()));
        Assert.StartsWith("ONE-WAY", next.GetProperty("warning").GetString());
        Assert.Subset(Failing(next).ToHashSet(), new HashSet<string> { "no-legacy-code-paths", "no-write-errors", "dirty-rows-resolved" });

        // The API says it is one-way before it runs, and never lets force past the gates.
        var unconfirmed = await Operator().PostAsJsonAsync("/api/migration/phase", new PhaseFlipRequest("Contracted", "contract", false));
        Assert.Equal(HttpStatusCode.BadRequest, unconfirmed.StatusCode);
        Assert.Contains("ONE-WAY", (await unconfirmed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("confirmOneWay")[0].GetString());
        var forced = await Operator().PostAsJsonAsync("/api/migration/phase", new PhaseFlipRequest("Contracted", "contract", true, ConfirmOneWay: true));
        Assert.Equal(HttpStatusCode.BadRequest, forced.StatusCode);
        Assert.True((await forced.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("force", out _));
        var refused = await Operator().PostAsJsonAsync("/api/migration/phase", new PhaseFlipRequest("Contracted", "contract", false, ConfirmOneWay: true));
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Equal("MachineOnly", await fleet.StringAsync("SELECT phase FROM migration_phase"));

        // Resolving: a dirty row by a recorded resolution (404 for one that is not open), the old replica gone.
        var resolve = new DirtyResolution("parked_machines", "pm_dirty", null, "pool row of a server deleted in 2025; nothing to migrate");
        Assert.Equal(HttpStatusCode.OK, (await Operator().PostAsJsonAsync("/api/migration/dirty/resolve", resolve)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Operator().PostAsJsonAsync("/api/migration/dirty/resolve", resolve)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Operator().PostAsJsonAsync("/api/migration/dirty/resolve", resolve with { Resolution = "" })).StatusCode);
        var dirty = await DirtyReports.AllAsync(Operator());
        Assert.Equal("ops", Assert.Single(dirty!, d => d.EntityId == "pm_dirty").ResolvedBy);
        await fleet.ExecuteAsync("DELETE FROM migration_instances WHERE instance_id = 'agents-old-replica'");

        // Traffic in MachineOnly (steady-state model): a new claim, a snapshot, a heartbeat.
        var claimer = await fleet.AgentWithPoolMachineAsync("c1");
        Assert.Equal(HttpStatusCode.Created, (await snapshots.PostAsJsonAsync("/api/snapshots", new { agentId = claimer.Id })).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await fleet.HeartbeatAsync(custom.Id, key, "healthy")).StatusCode);

        await Eventually.TrueAsync(async () => (await NextAsync()).GetProperty("open").GetBoolean(), TimeSpan.FromSeconds(20),
            "the contract's gates did not open after the soak");
        var flipped = await Operator().PostAsJsonAsync("/api/migration/phase",
            new PhaseFlipRequest("Contracted", "soak passed", false, ConfirmOneWay: true));
        Assert.Equal(HttpStatusCode.OK, flipped.StatusCode);

        // The control service applies the contract set, step by step, once every instance follows.
        await Eventually.TrueAsync(async () =>
        {
            var steps = await Operator().GetFromJsonAsync<List<ContractStepState>>("/api/migration/contract");
            return steps!.Count == ContractSql.Steps.Count && steps.All(s => s.FinishedAt is not null);
        }, TimeSpan.FromSeconds(60), "the contract set was not applied");

        await ContractedSchema.AssertAsync(fleet.Database);
        Assert.Equal(1, await fleet.ScalarAsync(
            "SELECT count(*) FROM agents a JOIN machines m ON m.id = a.machine_id WHERE a.id = @a AND m.legacy_id = @m", ("a", holder.Id), ("m", custom.Id)));
        Assert.Equal(1, await fleet.ScalarAsync("SELECT count(*) FROM migration_phase WHERE relation_renamed"));

        // The services run on: old clients still get the flat machine fields, computed from the relation.
        using var agents = fleet.AgentsAs(TestTokens.User("c1"));
        var held = await agents.GetFromJsonAsync<JsonElement>($"/api/agents/{holder.Id}");
        Assert.Equal((custom.Id, "198.51.100.40", "custom"),
            (held.GetProperty("machineId").GetString(), held.GetProperty("machineIpv4").GetString(), held.GetProperty("machineType").GetString()));
        var late = await fleet.AgentWithPoolMachineAsync("c1");
        Assert.Equal("hetzner", late.MachineType);
        Assert.False(string.IsNullOrEmpty(late.MachineIpv4));
        Assert.Equal(HttpStatusCode.Created, (await snapshots.PostAsJsonAsync("/api/snapshots", new { agentId = late.Id })).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await fleet.HeartbeatAsync(custom.Id, key, "unhealthy")).StatusCode);
        var (fresh, _) = await fleet.RegisterMachineAsync("c1", "198.51.100.41");
        Assert.Equal(HttpStatusCode.NoContent, (await machines.DeleteAsync($"/api/machines/custom/{fresh.Id}")).StatusCode);

        // Releasing a server that has snapshots keeps it as a tombstone: the snapshot and its foreign key hold.
        (await agents.PostAsync($"/api/agents/{late.Id}/release", null)).EnsureSuccessStatusCode();
        Assert.Equal("destroyed", await fleet.StringAsync("SELECT status FROM machines WHERE legacy_id = @id", ("id", late.MachineId!)));
        var listed = await snapshots.GetFromJsonAsync<List<JsonElement>>($"/api/snapshots?machineId={late.MachineId}");
        Assert.Single(listed!);
        using var pools = fleet.Pool.ClientFor(TestTokens.Operator());
        Assert.DoesNotContain(late.MachineId!, await pools.GetStringAsync("/api/pool/machines"));

        // Phase 4: the relation is strict, and a machine delete cascades to its snapshots.
        var orphan = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => fleet.ExecuteAsync(
            "INSERT INTO machine_snapshots (id, machine_id, machine_ref, status, created_at, user_id, is_final) VALUES ('bad', 'x', 'no-such-machine', 'available', now(), 'c1', false)"));
        Assert.Equal(Npgsql.PostgresErrorCodes.ForeignKeyViolation, orphan.SqlState);
        await fleet.ExecuteAsync("DELETE FROM machines WHERE id = (SELECT machine_ref FROM machine_snapshots WHERE id = 'snap_of_gone_server')");
        Assert.Equal(0, await fleet.ScalarAsync("SELECT count(*) FROM machine_snapshots WHERE id = 'snap_of_gone_server'"));

        // One-way: no rollback, and what reads legacy answers 409.
        var back = await Operator().PostAsJsonAsync("/api/migration/phase", new PhaseFlipRequest("MachineOnly", "undo", true));
        Assert.Equal(HttpStatusCode.Conflict, back.StatusCode);
        Assert.Contains("Contracted is final", await back.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Conflict, (await Operator().PostAsync("/api/migration/backfill/start", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await Operator().PostAsync("/api/migration/verify", null)).StatusCode);
        var status = await Operator().GetFromJsonAsync<JsonElement>("/api/migration");
        Assert.Equal(("Contracted", JsonValueKind.Null), (status.GetProperty("phase").GetString(), status.GetProperty("phases").GetProperty("next").ValueKind));
        Assert.Equal(0, await fleet.ScalarAsync(
            "SELECT count(*) FROM migration_instances WHERE expires_at > now() AND legacy_path_at >= (SELECT since FROM migration_phase)"));
    }
}
