using System.Net;
using System.Net.Http.Json;
using FleetAspire.Snapshots.Apis;

namespace FleetAspire.Snapshots.Tests;

/// <summary>The snapshots service against the Hetzner API shapes: image lifecycle and provider failures.</summary>
public sealed class HetznerSnapshotTests : IAsyncLifetime
{
    private HetznerReplayServer _hetzner = null!;
    private FleetServiceFactory<SnapshotResponse> _snapshots = null!;
    private string _database = null!;

    public async Task InitializeAsync()
    {
        _hetzner = await HetznerReplayServer.StartAsync();
        _database = await (await TestPostgres.GetAsync()).CreateDatabaseAsync(nameof(HetznerSnapshotTests));
        _snapshots = new FleetServiceFactory<SnapshotResponse>(_database, await (await TestRabbitMq.GetAsync()).CreateVirtualHostAsync("hetzner-snapshots"),
            new Dictionary<string, string?>
            {
                ["Cloud:Hetzner:Token"] = HetznerReplayServer.Token,
                ["Cloud:Hetzner:BaseUrl"] = _hetzner.BaseUrl.ToString(),
            });
    }

    public async Task DisposeAsync()
    {
        await _snapshots.DisposeAsync();
        await _hetzner.DisposeAsync();
    }

    /// <summary>An agent holding a server that exists at the (replayed) provider.</summary>
    private async Task<(string AgentId, string ServerId)> AgentOnAServerAsync(string user)
    {
        using var http = new HttpClient { BaseAddress = _hetzner.BaseUrl };
        http.DefaultRequestHeaders.Authorization = new("Bearer", HetznerReplayServer.Token);
        var created = await (await http.PostAsJsonAsync("servers", new { name = $"s-{Guid.NewGuid():N}", server_type = "cx22", image = "ubuntu-24.04" }))
            .Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        var serverId = created.GetProperty("server").GetProperty("id").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var agentId = $"agt_{Guid.NewGuid():N}";
        await PoolRows.AgentHoldingServerAsync(_database, agentId, user, serverId);
        return (agentId, serverId);
    }

    private async Task<long> SnapshotRowsAsync()
    {
        await using var connection = new Npgsql.NpgsqlConnection(_database);
        await connection.OpenAsync();
        await using var count = new Npgsql.NpgsqlCommand("SELECT count(*) FROM machine_snapshots", connection);
        return (long)(await count.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task A_snapshot_is_a_hetzner_image_and_deleting_it_deletes_the_image_first()
    {
        var (agentId, serverId) = await AgentOnAServerAsync("imager");
        using var client = _snapshots.ClientFor(TestTokens.User("imager"));

        var snapshot = (await (await client.PostAsJsonAsync("/api/snapshots", new CreateSnapshotRequest(agentId))).Content.ReadFromJsonAsync<SnapshotResponse>())!;
        var delete = await client.DeleteAsync($"/api/snapshots/{snapshot.Id}");

        Assert.Equal("creating", snapshot.Status); // Hetzner reports a new image as creating
        Assert.Equal((long)(2.5 * 1024 * 1024 * 1024), snapshot.SizeBytes);
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        Assert.Contains(_hetzner.Requests, r => r.Method == "POST" && r.Path == $"/v1/servers/{serverId}/actions/create_image");
        Assert.Contains(_hetzner.Requests, r => r.Method == "DELETE" && r.Path == $"/v1/images/{snapshot.ProviderImageId}");
        Assert.Equal(0, await SnapshotRowsAsync());
    }

    [Fact]
    public async Task When_the_provider_is_down_creating_leaves_no_row_and_deleting_keeps_the_row_for_a_retry()
    {
        var (agentId, _) = await AgentOnAServerAsync("unlucky-imager");
        using var client = _snapshots.ClientFor(TestTokens.User("unlucky-imager"));
        var rows = await SnapshotRowsAsync();

        _hetzner.FailNext = (503, "unavailable");
        var create = await client.PostAsJsonAsync("/api/snapshots", new CreateSnapshotRequest(agentId));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, create.StatusCode);
        Assert.NotNull(create.Headers.RetryAfter);
        Assert.Equal(rows, await SnapshotRowsAsync());

        var snapshot = (await (await client.PostAsJsonAsync("/api/snapshots", new CreateSnapshotRequest(agentId))).Content.ReadFromJsonAsync<SnapshotResponse>())!;
        _hetzner.FailNext = (503, "unavailable");
        var failedDelete = await client.DeleteAsync($"/api/snapshots/{snapshot.Id}");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, failedDelete.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/snapshots/{snapshot.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/api/snapshots/{snapshot.Id}")).StatusCode);
    }

    [Fact]
    public async Task A_provider_refusal_is_502_problem_details_and_leaves_no_row()
    {
        var (agentId, _) = await AgentOnAServerAsync("refused-imager");
        using var client = _snapshots.ClientFor(TestTokens.User("refused-imager"));
        var rows = await SnapshotRowsAsync();
        _hetzner.FailNext = (422, "invalid_input");

        var create = await client.PostAsJsonAsync("/api/snapshots", new CreateSnapshotRequest(agentId));

        Assert.Equal(HttpStatusCode.BadGateway, create.StatusCode);
        Assert.Equal("application/problem+json", create.Content.Headers.ContentType?.MediaType);
        Assert.Equal(rows, await SnapshotRowsAsync());
    }
}
