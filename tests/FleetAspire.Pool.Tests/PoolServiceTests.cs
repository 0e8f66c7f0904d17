using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FleetAspire.Agents.Apis;
using FleetAspire.Pool.Apis;
using FleetAspire.Pool.Application;
using FleetAspire.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace FleetAspire.Pool.Tests;

public sealed class PoolServiceTests : IAsyncLifetime
{
    private string _database = null!;
    private string _vhost = null!;
    private FleetServiceFactory<PoolStatusResponse> _pool = null!;

    public async Task InitializeAsync()
    {
        _database = await (await TestPostgres.GetAsync()).CreateDatabaseAsync(nameof(PoolServiceTests));
        _vhost = await (await TestRabbitMq.GetAsync()).CreateVirtualHostAsync("pool");
        _pool = new FleetServiceFactory<PoolStatusResponse>(_database, _vhost, new Dictionary<string, string?> { ["Pool:ReconcilerEnabled"] = "false" });
    }

    public async Task DisposeAsync() => await _pool.DisposeAsync();

    [Fact]
    public async Task A_reconcile_pass_fills_the_pool_to_its_target_and_retires_the_excess()
    {
        using var ops = _pool.ClientFor(TestTokens.Operator());

        await SetTargetAsync(ops, 4);
        var filled = await ReconcileAsync(ops);
        var status = await ops.GetFromJsonAsync<PoolStatusResponse>("/api/pool");

        Assert.Equal(4, filled.Provisioned);
        Assert.Equal(4, status!.Ready);
        Assert.Equal("simulator", status.Provider);

        await SetTargetAsync(ops, 1);
        var shrunk = await ReconcileAsync(ops);

        Assert.Equal(3, shrunk.Retired);
        Assert.Equal(1, (await ops.GetFromJsonAsync<PoolStatusResponse>("/api/pool"))!.Ready);
    }

    [Fact]
    public async Task Concurrent_reconcile_passes_never_overshoot_the_target()
    {
        using var ops = _pool.ClientFor(TestTokens.Operator());
        await SetTargetAsync(ops, 6);

        var passes = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => ReconcileAsync(ops)));
        await ReconcileAsync(ops);

        Assert.True(passes.Count(p => p.Ran) >= 1);
        Assert.Equal(6, (await ops.GetFromJsonAsync<PoolStatusResponse>("/api/pool"))!.Ready);
    }

    [Fact]
    public async Task Pool_machines_list_never_shows_the_shared_key()
    {
        using var ops = _pool.ClientFor(TestTokens.Operator());
        await SetTargetAsync(ops, 2);
        await ReconcileAsync(ops);

        var body = await ops.GetStringAsync("/api/pool/machines");

        using var page = JsonDocument.Parse(body);
        Assert.Equal(2, page.RootElement.GetProperty("items").GetArrayLength());
        Assert.DoesNotContain("sharedKey", body, StringComparison.OrdinalIgnoreCase);
        var keys = await PoolRows.SharedKeysAsync(_database);
        Assert.Equal(2, keys.Count);
        Assert.All(keys, key => Assert.DoesNotContain(key, body, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("""{"targetSize":-1}""")]
    [InlineData("""{"targetSize":1001}""")]
    [InlineData("""{}""")]
    [InlineData("""{"targetSize":"ten"}""")]
    public async Task An_invalid_target_is_400_and_leaves_the_target_unchanged(string body)
    {
        using var ops = _pool.ClientFor(TestTokens.Operator());
        var before = await CountAsync("SELECT target_size FROM pool_settings");

        var response = await ops.PutAsync("/api/pool/target", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(before, await CountAsync("SELECT target_size FROM pool_settings"));
    }

    [Theory]
    [InlineData("/api/pool/machines?status=broken")]
    [InlineData("/api/pool/machines?limit=0")]
    [InlineData("/api/pool/machines?after=%3Cscript%3E")]
    public async Task Invalid_list_filters_are_400(string path)
    {
        using var ops = _pool.ClientFor(TestTokens.Operator());

        var response = await ops.GetAsync(path);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task With_a_token_set_the_pool_provisions_through_the_hetzner_api()
    {
        await using var hetzner = await HetznerReplayServer.StartAsync();
        var database = await (await TestPostgres.GetAsync()).CreateDatabaseAsync("poolhetzner");
        await using var pool = new FleetServiceFactory<PoolStatusResponse>(database, _vhost, new Dictionary<string, string?>
        {
            ["Pool:ReconcilerEnabled"] = "false",
            ["Cloud:Hetzner:Token"] = HetznerReplayServer.Token,
            ["Cloud:Hetzner:BaseUrl"] = hetzner.BaseUrl.ToString(),
        });
        using var ops = pool.ClientFor(TestTokens.Operator());
        await SetTargetAsync(ops, 2);

        await ReconcileAsync(ops);
        var launching = await ops.GetFromJsonAsync<PoolStatusResponse>("/api/pool");
        hetzner.BootAll();
        await ReconcileAsync(ops);
        var ready = await ops.GetFromJsonAsync<PoolStatusResponse>("/api/pool");

        Assert.Equal("hetzner", launching!.Provider);
        Assert.Equal(2, launching.Launching);
        Assert.Equal(2, ready!.Ready);
        var creates = hetzner.Requests.Where(r => r.Method == "POST" && r.Path == "/v1/servers").ToList();
        Assert.Equal(2, creates.Count);
        Assert.All(creates, r => Assert.Equal($"Bearer {HetznerReplayServer.Token}", r.Authorization));
        // Each server receives its own key in cloud-init user data, and it is the key stored for the claim.
        var stored = await PoolRows.SharedKeysAsync(database);

        Assert.Equal(2, stored.Distinct().Count());
        Assert.All(stored, key => Assert.Single(creates, r => r.Json.GetProperty("user_data").GetString()!.Contains(key, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_claim_event_makes_the_running_reconciler_replenish_at_once()
    {
        var database = await (await TestPostgres.GetAsync()).CreateDatabaseAsync("poolreplenish");
        var vhost = await (await TestRabbitMq.GetAsync()).CreateVirtualHostAsync("replenish");
        // A one-hour tick: only the MachineClaimed event can make the pool refill within the test's deadline.
        await using var pool = new FleetServiceFactory<PoolStatusResponse>(database, vhost, new Dictionary<string, string?> { ["Pool:ReconcileInterval"] = "01:00:00" });
        await using var agents = new FleetServiceFactory<AgentResponse>(database, vhost);
        using var ops = pool.ClientFor(TestTokens.Operator());
        using var user = agents.ClientFor(TestTokens.User("replenisher"));
        _ = agents.Server;
        await SetTargetAsync(ops, 2);
        await ReconcileAsync(ops);
        var agent = (await (await user.PostAsJsonAsync("/api/agents", new CreateAgentRequest("a"))).Content.ReadFromJsonAsync<AgentResponse>())!;

        (await user.PostAsync($"/api/agents/{agent.Id}/claim", null)).EnsureSuccessStatusCode();

        await Eventually.TrueAsync(async () => (await ops.GetFromJsonAsync<PoolStatusResponse>("/api/pool"))!.Ready == 2,
            TimeSpan.FromSeconds(20), "the pool did not replenish after the claim event");
    }

    private static async Task SetTargetAsync(HttpClient ops, int size) =>
        (await ops.PutAsJsonAsync("/api/pool/target", new SetPoolTargetRequest(size))).EnsureSuccessStatusCode();

    private static async Task<ReconcileReport> ReconcileAsync(HttpClient ops)
    {
        var response = await ops.PostAsync("/api/pool/reconcile", null);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<ReconcileReport>())!;
    }

    private async Task<long> CountAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>
/// The simulator, watched: while the pool deletes a server, it checks that no transaction holds that server's pool row —
/// the retire committed before the call, so a slow provider holds nothing in the database.
/// </summary>
internal sealed class WatchedCloud(Cloud.SimulatedCloudProvider inner, string database) : Cloud.ICloudProvider
{
    public System.Collections.Concurrent.ConcurrentQueue<(string Server, bool RowLocked)> Deletes { get; } = new();

    public string Name => inner.Name;

    public Task<Cloud.CloudServer> CreateServerAsync(string name, string userData, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken) =>
        inner.CreateServerAsync(name, userData, labels, cancellationToken);

    public Task<Cloud.CloudServer?> GetServerAsync(string serverId, CancellationToken cancellationToken) => inner.GetServerAsync(serverId, cancellationToken);

    public async Task DeleteServerAsync(string serverId, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using var probe = new NpgsqlCommand(await PoolRows.LockWithoutWaitingSqlAsync(database), connection, tx);
        probe.Parameters.AddWithValue("id", serverId);
        var locked = false;
        try
        {
            await probe.ExecuteScalarAsync(cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            locked = true;
        }

        await tx.RollbackAsync(cancellationToken);
        Deletes.Enqueue((serverId, locked));
        await inner.DeleteServerAsync(serverId, cancellationToken);
    }

    public Task<Cloud.CloudImage> CreateImageAsync(string serverId, string description, CancellationToken cancellationToken) =>
        inner.CreateImageAsync(serverId, description, cancellationToken);

    public Task DeleteImageAsync(string imageId, CancellationToken cancellationToken) => inner.DeleteImageAsync(imageId, cancellationToken);
}

public sealed class PoolRetirementTests
{
    [Fact]
    public async Task Retiring_a_surplus_server_holds_no_transaction_across_the_providers_delete()
    {
        var database = await (await TestPostgres.GetAsync()).CreateDatabaseAsync(nameof(PoolRetirementTests));
        var vhost = await (await TestRabbitMq.GetAsync()).CreateVirtualHostAsync("pool-retire");
        WatchedCloud? watched = null;
        await using var pool = new FleetServiceFactory<PoolStatusResponse>(database, vhost, new Dictionary<string, string?> { ["Pool:ReconcilerEnabled"] = "false" },
            services => services.AddSingleton<Cloud.ICloudProvider>(sp => watched = new WatchedCloud(sp.GetRequiredService<Cloud.SimulatedCloudProvider>(), database)));
        using var ops = pool.ClientFor(TestTokens.Operator());
        (await ops.PutAsJsonAsync("/api/pool/target", new SetPoolTargetRequest(3))).EnsureSuccessStatusCode();
        (await ops.PostAsync("/api/pool/reconcile", null)).EnsureSuccessStatusCode();

        (await ops.PutAsJsonAsync("/api/pool/target", new SetPoolTargetRequest(1))).EnsureSuccessStatusCode();
        var shrunk = (await (await ops.PostAsync("/api/pool/reconcile", null)).Content.ReadFromJsonAsync<ReconcileReport>())!;

        Assert.Equal(2, shrunk.Retired);
        Assert.Equal(2, watched!.Deletes.Count);
        Assert.All(watched.Deletes, d => Assert.False(d.RowLocked, $"server {d.Server}: its pool row was locked during the provider's delete"));
        Assert.Equal(1, (await ops.GetFromJsonAsync<PoolStatusResponse>("/api/pool"))!.Ready);
    }
}
