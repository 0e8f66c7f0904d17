using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FleetAspire.Names;
using Aspire.Hosting.ApplicationModel;
using FleetAspire.Testing;

namespace FleetAspire.AppHost.Tests;

[Collection(FleetAppHostCollection.Name)]
public sealed class AppHostTests(FleetAppHostFixture fixture)
{
    [Fact]
    public async Task Every_service_answers_its_health_probe()
    {
        foreach (var service in new[] { ResourceNames.Agents, ResourceNames.Machines, ResourceNames.Pool, ResourceNames.Snapshots, ResourceNames.Migration })
        {
            using var client = fixture.Client(service, token: null);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
        }
    }

    [Fact]
    public void The_old_version_writer_is_part_of_the_app_and_stays_off_until_an_operator_starts_it()
    {
        Assert.True(fixture.App.ResourceNotifications.TryGetCurrentState(ResourceNames.OldWriter, out var writer), "no old-writer resource");
        Assert.Equal(KnownResourceStates.NotStarted, writer!.Snapshot.State?.Text);
    }

    [Fact]
    public async Task A_flip_through_the_control_api_is_followed_by_every_service_within_two_seconds()
    {
        using var ops = fixture.Client(ResourceNames.Migration, TestTokens.Operator());
        async Task<JsonElement> PhasesAsync() => (await ops.GetFromJsonAsync<JsonElement>("/api/migration")).GetProperty("phases");
        static long[] Epochs(JsonElement phases) => phases.GetProperty("instances").EnumerateArray().Select(i => i.GetProperty("epoch").GetInt64()).ToArray();
        await Eventually.TrueAsync(async () => Epochs(await PhasesAsync()).Length == 4, TimeSpan.FromSeconds(30), "the four services did not register");
        var before = await PhasesAsync();
        var epoch = before.GetProperty("epoch").GetInt64();
        await Eventually.TrueAsync(async () => Epochs(await PhasesAsync()).All(e => e == epoch), TimeSpan.FromSeconds(10), "not every service runs the current epoch");
        var (there, back) = before.GetProperty("phase").GetString() == "Legacy" ? ("DualWrite", "Legacy") : ("Legacy", "DualWrite");

        var flip = await ops.PostAsJsonAsync("/api/migration/phase", new { target = there, reason = "apphost test", force = false });
        var flippedAt = DateTimeOffset.UtcNow;
        await Eventually.TrueAsync(async () => Epochs(await PhasesAsync()).All(e => e == epoch + 1), TimeSpan.FromSeconds(2),
            "not every service followed the flip within 2 s");
        var followed = DateTimeOffset.UtcNow - flippedAt;
        var flipBack = await ops.PostAsJsonAsync("/api/migration/phase", new { target = back, reason = "apphost test: restore", force = false });

        Assert.Equal(HttpStatusCode.OK, flip.StatusCode);
        Assert.True(followed < TimeSpan.FromSeconds(2), $"followed in {followed.TotalMilliseconds:0} ms");
        Assert.Equal(HttpStatusCode.OK, flipBack.StatusCode);
    }

    [Fact]
    public async Task An_agent_is_created_claims_a_pool_machine_connects_and_releases_it_across_the_running_app()
    {
        using var ops = fixture.Client(ResourceNames.Pool, TestTokens.Operator());
        using var user = fixture.Client(ResourceNames.Agents, TestTokens.User("e2e"));
        (await ops.PutAsJsonAsync("/api/pool/target", new { targetSize = 2 })).EnsureSuccessStatusCode();
        // The pool's own reconciler (not the test) fills the pool.
        await Eventually.TrueAsync(async () => (await ops.GetFromJsonAsync<JsonElement>("/api/pool")).GetProperty("ready").GetInt32() == 2,
            TimeSpan.FromSeconds(30), "the pool did not fill");

        var created = await user.PostAsJsonAsync("/api/agents", new { name = "e2e-agent" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var agentId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();

        var claim = await user.PostAsync($"/api/agents/{agentId}/claim", null);
        Assert.Equal(HttpStatusCode.OK, claim.StatusCode);
        var claimed = await claim.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("hetzner", claimed.GetProperty("machineType").GetString());

        var connection = await user.GetFromJsonAsync<JsonElement>($"/api/agents/{agentId}/connection");
        Assert.Equal(claimed.GetProperty("machineIpv4").GetString(), connection.GetProperty("ipv4").GetString());
        Assert.Equal(8911, connection.GetProperty("port").GetInt32());
        Assert.False(string.IsNullOrEmpty(connection.GetProperty("sharedKey").GetString()));

        // The MachineClaimed event crosses RabbitMQ to the pool, which replenishes to its target.
        await Eventually.TrueAsync(async () => (await ops.GetFromJsonAsync<JsonElement>("/api/pool")).GetProperty("ready").GetInt32() == 2,
            TimeSpan.FromSeconds(30), "the pool did not replenish after the claim");

        var release = await user.PostAsync($"/api/agents/{agentId}/release", null);
        Assert.Equal(HttpStatusCode.OK, release.StatusCode);
        var released = await release.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(JsonValueKind.Null, released.GetProperty("machineId").ValueKind);
        Assert.Equal(HttpStatusCode.Conflict, (await user.GetAsync($"/api/agents/{agentId}/connection")).StatusCode);
    }

    [Fact]
    public async Task Deleting_an_agent_takes_its_final_snapshot_through_the_broker_before_the_machine_is_released()
    {
        using var ops = fixture.Client(ResourceNames.Pool, TestTokens.Operator());
        using var agents = fixture.Client(ResourceNames.Agents, TestTokens.User("e2e-delete"));
        using var snapshots = fixture.Client(ResourceNames.Snapshots, TestTokens.User("e2e-delete"));
        (await ops.PutAsJsonAsync("/api/pool/target", new { targetSize = 2 })).EnsureSuccessStatusCode();
        await Eventually.TrueAsync(async () => (await ops.GetFromJsonAsync<JsonElement>("/api/pool")).GetProperty("ready").GetInt32() >= 1,
            TimeSpan.FromSeconds(30), "the pool did not fill");
        var agentId = (await (await agents.PostAsJsonAsync("/api/agents", new { name = "doomed" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        var machineId = (await (await agents.PostAsync($"/api/agents/{agentId}/claim", null)).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("machineId").GetString();

        Assert.Equal(HttpStatusCode.Accepted, (await agents.DeleteAsync($"/api/agents/{agentId}")).StatusCode);

        // agents -> AgentDeletionRequested -> snapshots -> FinalSnapshotTaken -> agents -> MachineReleased -> pool
        await Eventually.TrueAsync(async () => (await agents.GetAsync($"/api/agents/{agentId}")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(30), "the agent was not deleted");
        var kept = await snapshots.GetFromJsonAsync<JsonElement>($"/api/snapshots?machineId={machineId}");
        Assert.Equal(1, kept.GetArrayLength());
        Assert.True(kept[0].GetProperty("isFinal").GetBoolean());
    }
}
