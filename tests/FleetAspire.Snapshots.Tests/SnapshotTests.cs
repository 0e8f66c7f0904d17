using System.Net;
using System.Net.Http.Json;
using FleetAspire.Contracts.Agents;
using FleetAspire.Contracts.Snapshots;
using FleetAspire.Machines.Apis;
using FleetAspire.Snapshots.Apis;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace FleetAspire.Snapshots.Tests;

public sealed class SnapshotTests(FleetAppFixture app) : IClassFixture<FleetAppFixture>
{
    [Fact]
    public async Task Snapshotting_an_agents_pool_machine_stores_the_provider_image_and_lists_it_by_machine_id()
    {
        var agent = await app.AgentWithPoolMachineAsync("snapper");
        using var client = app.SnapshotsAs(TestTokens.User("snapper"));

        var response = await client.PostAsJsonAsync("/api/snapshots", new CreateSnapshotRequest(agent.Id));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var snapshot = (await response.Content.ReadFromJsonAsync<SnapshotResponse>())!;
        Assert.Equal((agent.MachineId, agent.Id, "snapper", "available", false), (snapshot.MachineId, snapshot.AgentId, snapshot.UserId, snapshot.Status, snapshot.IsFinal));
        Assert.NotNull(snapshot.ProviderImageId);
        var listed = await client.GetFromJsonAsync<List<SnapshotResponse>>($"/api/snapshots?machineId={agent.MachineId}");
        Assert.Equal([snapshot.Id], listed!.Select(s => s.Id));
    }

    [Fact]
    public async Task Other_users_neither_see_nor_delete_a_snapshot_nor_snapshot_someone_elses_agent()
    {
        var agent = await app.AgentWithPoolMachineAsync("private-snapper");
        using var owner = app.SnapshotsAs(TestTokens.User("private-snapper"));
        var snapshot = (await (await owner.PostAsJsonAsync("/api/snapshots", new CreateSnapshotRequest(agent.Id))).Content.ReadFromJsonAsync<SnapshotResponse>())!;
        using var other = app.SnapshotsAs(TestTokens.User("snooper"));

        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/api/snapshots/{snapshot.Id}")).StatusCode);
        Assert.Empty((await other.GetFromJsonAsync<List<SnapshotResponse>>($"/api/snapshots?machineId={agent.MachineId}"))!);
        Assert.Equal(HttpStatusCode.NotFound, (await other.DeleteAsync($"/api/snapshots/{snapshot.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsJsonAsync("/api/snapshots", new CreateSnapshotRequest(agent.Id))).StatusCode);
        Assert.Equal(1, await app.ScalarAsync("SELECT count(*) FROM machine_snapshots WHERE machine_id = @m", ("m", agent.MachineId!)));
    }

    [Fact]
    public async Task Custom_machines_and_agents_without_a_machine_cannot_be_snapshotted()
    {
        var (machine, _) = await app.RegisterMachineAsync("custom-snapper");
        var withCustom = await app.CreateAgentAsync("custom-snapper");
        var idle = await app.CreateAgentAsync("custom-snapper");
        using var machines = app.MachinesAs(TestTokens.User("custom-snapper"));
        (await machines.PostAsJsonAsync($"/api/machines/custom/{machine.Id}/assign", new AssignCustomMachineRequest(withCustom.Id))).EnsureSuccessStatusCode();
        using var client = app.SnapshotsAs(TestTokens.User("custom-snapper"));

        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsJsonAsync("/api/snapshots", new CreateSnapshotRequest(withCustom.Id))).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsJsonAsync("/api/snapshots", new CreateSnapshotRequest(idle.Id))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsJsonAsync("/api/snapshots", new CreateSnapshotRequest(null))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsJsonAsync("/api/snapshots", new CreateSnapshotRequest("agt_missing"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/snapshots")).StatusCode);
        Assert.Equal(0, await app.ScalarAsync("SELECT count(*) FROM machine_snapshots WHERE user_id = 'custom-snapper'"));
    }

    [Fact]
    public async Task Deleting_a_custom_machine_agent_skips_the_snapshot_and_still_releases_and_deletes()
    {
        var (machine, _) = await app.RegisterMachineAsync("custom-deleter");
        var agent = await app.CreateAgentAsync("custom-deleter");
        using var machines = app.MachinesAs(TestTokens.User("custom-deleter"));
        (await machines.PostAsJsonAsync($"/api/machines/custom/{machine.Id}/assign", new AssignCustomMachineRequest(agent.Id))).EnsureSuccessStatusCode();
        using var agents = app.AgentsAs(TestTokens.User("custom-deleter"));

        Assert.Equal(HttpStatusCode.Accepted, (await agents.DeleteAsync($"/api/agents/{agent.Id}")).StatusCode);

        await Eventually.TrueAsync(async () => await app.ScalarAsync("SELECT count(*) FROM agents WHERE id = @a", ("a", agent.Id)) == 0,
            TimeSpan.FromSeconds(30), "the agent was not deleted");
        Assert.Null((await machines.GetFromJsonAsync<CustomMachineResponse>($"/api/machines/custom/{machine.Id}"))!.CurrentAgentId);
        Assert.Equal(0, await app.ScalarAsync("SELECT count(*) FROM machine_snapshots WHERE agent_id = @a", ("a", agent.Id)));
    }

    [Fact]
    public async Task A_deletion_request_delivered_twice_takes_one_final_snapshot()
    {
        var agent = await app.AgentWithPoolMachineAsync("twice-deleted");
        await app.ExecuteAsync($"UPDATE agents SET status = 'deleting' WHERE id = '{agent.Id}'");
        var consumed = ConsumedMessages.AttachTo(app.Snapshots.Services);
        var bus = app.Snapshots.Services.GetRequiredService<IBus>();
        var messageId = NewId.NextGuid();
        var request = new AgentDeletionRequested { AgentId = agent.Id, UserId = "twice-deleted", MachineId = agent.MachineId!, MachineType = "hetzner", RequestedAt = DateTimeOffset.UtcNow };

        await bus.Publish(request, ctx => ctx.MessageId = messageId);
        await bus.Publish(request, ctx => ctx.MessageId = messageId);
        await Eventually.TrueAsync(() => Task.FromResult(consumed.Count<AgentDeletionRequested>(messageId) == 2), TimeSpan.FromSeconds(30), "both deliveries consumed");

        Assert.Equal(1, await app.ScalarAsync("SELECT count(*) FROM machine_snapshots WHERE agent_id = @a AND is_final", ("a", agent.Id)));
        await Eventually.TrueAsync(async () => await app.ScalarAsync("SELECT count(*) FROM agents WHERE id = @a", ("a", agent.Id)) == 0,
            TimeSpan.FromSeconds(30), "the agent was not deleted");
        // Two FinalSnapshotTaken events, one release: the second finds the agent gone.
        await app.OutboxDrainedAsync();
        Assert.Equal(1, await app.ScalarAsync("SELECT count(*) FROM outbox_messages WHERE aggregate_id = @a AND message_type LIKE '%MachineReleased'", ("a", agent.Id)));
    }

    [Fact]
    public async Task Snapshots_outlive_their_agent_and_server_and_their_owner_can_still_delete_them()
    {
        var agent = await app.AgentWithPoolMachineAsync("keeper");
        using var snapshots = app.SnapshotsAs(TestTokens.User("keeper"));
        var snapshot = (await (await snapshots.PostAsJsonAsync("/api/snapshots", new CreateSnapshotRequest(agent.Id))).Content.ReadFromJsonAsync<SnapshotResponse>())!;
        using var agents = app.AgentsAs(TestTokens.User("keeper"));
        (await agents.DeleteAsync($"/api/agents/{agent.Id}")).EnsureSuccessStatusCode();
        await Eventually.TrueAsync(() => Task.FromResult(!app.Cloud.LiveServerIds.Contains(agent.MachineId!)), TimeSpan.FromSeconds(30), "server not destroyed");

        var listed = await snapshots.GetFromJsonAsync<List<SnapshotResponse>>($"/api/snapshots?machineId={agent.MachineId}");
        var delete = await snapshots.DeleteAsync($"/api/snapshots/{snapshot.Id}");

        Assert.Equal(2, listed!.Count); // the manual one and the final one
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await snapshots.GetAsync($"/api/snapshots/{snapshot.Id}")).StatusCode);
    }
}

/// <summary>Images that take a second to create, so requests can overlap with it.</summary>
public sealed class SlowImagesFixture : FleetAppFixture
{
    protected override Dictionary<string, string?> Settings { get; } = new()
    {
        ["Pool:ReconcilerEnabled"] = "false",
        ["HealthChecks:SweeperEnabled"] = "false",
        ["Cloud:Simulator:ImageDelay"] = "00:00:01",
    };
}

public sealed class SnapshotRaceTests(SlowImagesFixture app) : IClassFixture<SlowImagesFixture>
{
    private Cloud.SimulatedCloudProvider SnapshotsCloud => app.Snapshots.Services.GetRequiredService<Cloud.SimulatedCloudProvider>();

    [Fact]
    public async Task Concurrent_deletes_of_one_snapshot_answer_204_and_404_never_500()
    {
        var agent = await app.AgentWithPoolMachineAsync("double-deleter");
        using var client = app.SnapshotsAs(TestTokens.User("double-deleter"));
        var snapshot = (await (await client.PostAsJsonAsync("/api/snapshots", new CreateSnapshotRequest(agent.Id))).Content.ReadFromJsonAsync<SnapshotResponse>())!;

        var deletes = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => client.DeleteAsync($"/api/snapshots/{snapshot.Id}")));

        var statuses = deletes.Select(d => d.StatusCode).ToList();
        Assert.Single(statuses, HttpStatusCode.NoContent);
        Assert.All(statuses.Where(s => s != HttpStatusCode.NoContent), s => Assert.Equal(HttpStatusCode.NotFound, s));
        Assert.DoesNotContain(snapshot.ProviderImageId!, SnapshotsCloud.LiveImageIds);
        Assert.Equal(0, await app.ScalarAsync("SELECT count(*) FROM machine_snapshots WHERE id = @s", ("s", snapshot.Id)));
    }

    [Fact]
    public async Task A_delete_racing_a_create_is_refused_until_the_image_exists_and_no_image_is_left_without_a_row()
    {
        var agent = await app.AgentWithPoolMachineAsync("racer");
        using var client = app.SnapshotsAs(TestTokens.User("racer"));

        var creating = client.PostAsJsonAsync("/api/snapshots", new CreateSnapshotRequest(agent.Id));
        string? id = null;
        await Eventually.TrueAsync(async () => (id = await app.StringAsync(
                "SELECT id FROM machine_snapshots WHERE agent_id = @a AND provider_image_id IS NULL", ("a", agent.Id))) is not null,
            TimeSpan.FromSeconds(10), "the snapshot row did not appear while its image was being created");
        var early = await client.DeleteAsync($"/api/snapshots/{id}");
        var created = await creating;

        Assert.Equal(HttpStatusCode.Conflict, early.StatusCode);
        Assert.Equal("application/problem+json", early.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var image = (await created.Content.ReadFromJsonAsync<SnapshotResponse>())!.ProviderImageId;
        Assert.Contains(image!, SnapshotsCloud.LiveImageIds);
        Assert.Equal(1, await app.ScalarAsync("SELECT count(*) FROM machine_snapshots WHERE provider_image_id = @i", ("i", image!)));
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/api/snapshots/{id}")).StatusCode);
        Assert.DoesNotContain(image!, SnapshotsCloud.LiveImageIds);
    }
}
