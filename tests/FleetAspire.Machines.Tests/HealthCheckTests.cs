using System.Net;
using System.Net.Http.Json;
using FleetAspire.Agents.Apis;
using FleetAspire.Contracts.Machines;
using FleetAspire.Machines.Apis;
using FleetAspire.Machines.Application;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace FleetAspire.Machines.Tests;

/// <summary>Health checks with a heartbeat timeout short enough for the sweeper to be driven by the tests.</summary>
public sealed class HealthFixture : FleetAppFixture
{
    protected override Dictionary<string, string?> Settings { get; } = new()
    {
        ["Pool:ReconcilerEnabled"] = "false",
        ["HealthChecks:SweeperEnabled"] = "false",
        ["HealthChecks:FailureThreshold"] = "3",
        ["HealthChecks:HeartbeatTimeout"] = "00:00:00.200",
        ["HealthChecks:PruneBatchSize"] = "7",
        ["HealthChecks:PruneBatchPause"] = "00:00:00",
    };
}

public sealed class HealthCheckTests(HealthFixture app) : IClassFixture<HealthFixture>
{
    private async Task<(AgentResponse Agent, string MachineId, string Key)> AssignedCustomMachineAsync(string user)
    {
        var (machine, key) = await app.RegisterMachineAsync(user);
        var agent = await app.CreateAgentAsync(user);
        using var client = app.MachinesAs(TestTokens.User(user));
        (await client.PostAsJsonAsync($"/api/machines/custom/{machine.Id}/assign", new AssignCustomMachineRequest(agent.Id))).EnsureSuccessStatusCode();
        return (agent, machine.Id, key);
    }

    private async Task<string> AgentStatusAsync(string user, string agentId)
    {
        using var client = app.AgentsAs(TestTokens.User(user));
        return (await client.GetFromJsonAsync<AgentResponse>($"/api/agents/{agentId}"))!.Status;
    }

    [Fact]
    public async Task A_signed_heartbeat_is_stored_as_a_health_check()
    {
        var (agent, machineId, key) = await AssignedCustomMachineAsync("beater");

        var response = await app.HeartbeatAsync(machineId, key, "healthy");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(1, await app.ScalarAsync("SELECT count(*) FROM machine_health_checks WHERE agent_id = @a AND machine_id = @m AND outcome = 'healthy' AND latency_ms = 12",
            ("a", agent.Id), ("m", machineId)));
        using var owner = app.MachinesAs(TestTokens.User("beater"));
        var checks = await owner.GetFromJsonAsync<List<HealthCheckResponse>>($"/api/machines/health?machineId={machineId}");
        Assert.Single(checks!);
    }

    [Fact]
    public async Task Heartbeats_with_a_wrong_signature_a_stale_timestamp_or_an_unknown_machine_are_refused_and_not_stored()
    {
        var (_, machineId, key) = await AssignedCustomMachineAsync("forger");
        var before = await app.ScalarAsync("SELECT count(*) FROM machine_health_checks");

        var wrongKey = await app.HeartbeatAsync(machineId, "not-the-key-0123456789", "healthy");
        var tampered = await app.HeartbeatAsync(machineId, key, "healthy", signatureOverride: new string('0', 64));
        var stale = await app.HeartbeatAsync(machineId, key, "healthy", DateTimeOffset.UtcNow.AddMinutes(-30));
        var unknown = await app.HeartbeatAsync("cm_doesnotexist", key, "healthy");

        Assert.All(new[] { wrongKey, tampered, stale, unknown }, r => Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode));
        Assert.Equal(before, await app.ScalarAsync("SELECT count(*) FROM machine_health_checks"));
    }

    [Fact]
    public async Task A_heartbeat_replayed_or_older_than_the_last_one_accepted_is_refused_and_not_stored()
    {
        var (_, machineId, key) = await AssignedCustomMachineAsync("replayed");
        var at = DateTimeOffset.UtcNow;

        var first = await app.HeartbeatAsync(machineId, key, "healthy", at);
        var replayed = await app.HeartbeatAsync(machineId, key, "healthy", at);
        var older = await app.HeartbeatAsync(machineId, key, "unhealthy", at.AddSeconds(-20));
        var later = await app.HeartbeatAsync(machineId, key, "healthy", at.AddSeconds(1));

        Assert.Equal((HttpStatusCode.Accepted, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Accepted),
            (first.StatusCode, replayed.StatusCode, older.StatusCode, later.StatusCode));
        Assert.Equal(2, await app.ScalarAsync("SELECT count(*) FROM machine_health_checks WHERE machine_id = @m", ("m", machineId)));
        Assert.Equal(0, await app.ScalarAsync("SELECT count(*) FROM machine_health_checks WHERE machine_id = @m AND outcome = 'unhealthy'", ("m", machineId)));
    }

    [Fact]
    public async Task Health_checks_of_another_users_machine_are_404_like_every_foreign_id_and_an_own_idle_machine_is_an_empty_list()
    {
        var (_, machineId, key) = await AssignedCustomMachineAsync("health-owner");
        await app.HeartbeatAsync(machineId, key, "healthy");
        var (idle, _) = await app.RegisterMachineAsync("health-owner");
        using var stranger = app.MachinesAs(TestTokens.User("health-stranger"));
        using var owner = app.MachinesAs(TestTokens.User("health-owner"));

        var foreign = await stranger.GetAsync($"/api/machines/health?machineId={machineId}");
        var unknown = await stranger.GetAsync("/api/machines/health?machineId=cm_nosuchmachine");
        var own = await owner.GetFromJsonAsync<List<HealthCheckResponse>>($"/api/machines/health?machineId={idle.Id}");

        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        Assert.Equal("application/problem+json", foreign.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Empty(own!);
    }

    [Fact]
    public async Task Three_consecutive_failures_mark_the_agent_unhealthy_and_a_success_clears_it()
    {
        var (agent, machineId, key) = await AssignedCustomMachineAsync("sickly");
        await app.HeartbeatAsync(machineId, key, "unhealthy");
        await app.HeartbeatAsync(machineId, key, "unhealthy");
        await app.OutboxDrainedAsync();
        Assert.Equal("active", await AgentStatusAsync("sickly", agent.Id));

        await app.HeartbeatAsync(machineId, key, "unhealthy");

        await Eventually.TrueAsync(async () => await AgentStatusAsync("sickly", agent.Id) == "unhealthy",
            TimeSpan.FromSeconds(20), "the agent did not become unhealthy");
        await app.HeartbeatAsync(machineId, key, "healthy");
        await Eventually.TrueAsync(async () => await AgentStatusAsync("sickly", agent.Id) == "active",
            TimeSpan.FromSeconds(20), "the agent did not recover");
        Assert.Equal(1, await app.ScalarAsync("SELECT count(*) FROM outbox_messages WHERE aggregate_id = @a AND message_type LIKE '%MachineBecameUnhealthy'", ("a", agent.Id)));
        Assert.Equal(1, await app.ScalarAsync("SELECT count(*) FROM outbox_messages WHERE aggregate_id = @a AND message_type LIKE '%MachineRecovered'", ("a", agent.Id)));
    }

    [Fact]
    public async Task Silence_counts_as_failure_the_sweeper_records_missed_heartbeats_until_the_agent_is_unhealthy()
    {
        var (agent, machineId, _) = await AssignedCustomMachineAsync("silent");
        var sweeper = app.Machines.Services.GetRequiredService<HeartbeatSweeper>();

        // Each pass records one missed check per silent machine once the 200 ms timeout has passed since the last.
        await Eventually.TrueAsync(async () =>
        {
            await sweeper.SweepOnceAsync(CancellationToken.None);
            return await app.ScalarAsync("SELECT count(*) FROM machine_health_checks WHERE machine_id = @m AND outcome = 'missed'", ("m", machineId)) >= 3;
        }, TimeSpan.FromSeconds(20), "the sweeper did not record three missed heartbeats");

        await Eventually.TrueAsync(async () => await AgentStatusAsync("silent", agent.Id) == "unhealthy",
            TimeSpan.FromSeconds(20), "silence did not make the agent unhealthy");
    }

    /// <summary>
    /// The Machine row a health check written by hand belongs to: none while the fleet is in Legacy (the column is
    /// still optional), the machine's own row once the model is Machine (required there).
    /// </summary>
    private static string MachineRef(string machineId) =>
        $"(SELECT m.id FROM machines m WHERE m.id = '{machineId}' OR m.legacy_id = '{machineId}')";

    [Fact]
    public async Task Old_health_checks_are_pruned_in_batches_and_recent_ones_kept()
    {
        var (agent, machineId, key) = await AssignedCustomMachineAsync("pruned");
        await app.ExecuteAsync($"""
            INSERT INTO machine_health_checks (agent_id, machine_id, machine_ref, outcome, checked_at)
            SELECT '{agent.Id}', '{machineId}', {MachineRef(machineId)}, 'healthy', now() - interval '30 days' - i * interval '1 minute'
            FROM generate_series(1, 50) i
            """);
        await app.HeartbeatAsync(machineId, key, "healthy");

        var deleted = await app.Machines.Services.GetRequiredService<HealthCheckPruner>().PruneAsync(CancellationToken.None);

        Assert.True(deleted >= 50, $"pruned {deleted}");
        Assert.Equal(1, await app.ScalarAsync("SELECT count(*) FROM machine_health_checks WHERE machine_id = @m", ("m", machineId)));
        Assert.Equal(0, await app.ScalarAsync("SELECT count(*) FROM machine_health_checks WHERE checked_at < now() - interval '7 days'"));
    }

    [Fact]
    public async Task A_health_event_delivered_twice_is_consumed_twice_and_changes_the_agent_once()
    {
        var (agent, machineId, _) = await AssignedCustomMachineAsync("twice");
        // Three failures written directly: no event yet, so the status still says active.
        await app.ExecuteAsync($"""
            INSERT INTO machine_health_checks (agent_id, machine_id, machine_ref, outcome, checked_at)
            SELECT '{agent.Id}', '{machineId}', {MachineRef(machineId)}, 'unhealthy', now() - i * interval '1 second' FROM generate_series(1, 3) i
            """);
        var consumed = ConsumedMessages.AttachTo(app.Agents.Services);
        var bus = app.Agents.Services.GetRequiredService<IBus>();
        var messageId = NewId.NextGuid();
        var message = new MachineBecameUnhealthy { AgentId = agent.Id, MachineId = machineId, DetectedAt = DateTimeOffset.UtcNow };

        await bus.Publish(message, ctx => ctx.MessageId = messageId);
        await Eventually.TrueAsync(() => Task.FromResult(consumed.Count<MachineBecameUnhealthy>(messageId) == 1), TimeSpan.FromSeconds(20), "first delivery not consumed");
        var afterFirst = await app.StringAsync("SELECT status || ' ' || xmin::text FROM agents WHERE id = @a", ("a", agent.Id));
        await bus.Publish(message, ctx => ctx.MessageId = messageId);
        await Eventually.TrueAsync(() => Task.FromResult(consumed.Count<MachineBecameUnhealthy>(messageId) == 2), TimeSpan.FromSeconds(20), "second delivery not consumed");

        Assert.StartsWith("unhealthy ", afterFirst, StringComparison.Ordinal);
        // xmin changes with every update of the row: the duplicate did not write it again.
        Assert.Equal(afterFirst, await app.StringAsync("SELECT status || ' ' || xmin::text FROM agents WHERE id = @a", ("a", agent.Id)));
    }
}
