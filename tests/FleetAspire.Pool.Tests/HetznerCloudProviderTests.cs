using FleetAspire.Cloud;
using Microsoft.Extensions.Options;

using FleetAspire.Testing;

namespace FleetAspire.Pool.Tests;

public sealed class HetznerCloudProviderTests : IAsyncLifetime
{
    private HetznerReplayServer _hetzner = null!;
    private HttpClient _http = null!;
    private HetznerCloudProvider _provider = null!;

    public async Task InitializeAsync()
    {
        _hetzner = await HetznerReplayServer.StartAsync();
        _http = new HttpClient { BaseAddress = _hetzner.BaseUrl };
        _http.DefaultRequestHeaders.Authorization = new("Bearer", HetznerReplayServer.Token);
        _provider = new HetznerCloudProvider(_http, Options.Create(new CloudOptions { Hetzner = new HetznerOptions { Token = HetznerReplayServer.Token, ServerType = "cx22", Image = "ubuntu-24.04", Location = "fsn1" } }));
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _hetzner.DisposeAsync();
    }

    [Fact]
    public async Task Creating_a_server_sends_type_image_location_user_data_and_labels_and_reads_id_and_ipv4()
    {
        var server = await _provider.CreateServerAsync("fleet-pool-1", "#cloud-config\nkey", new Dictionary<string, string> { ["fleet-pool"] = "pm_1" }, default);

        var request = Assert.Single(_hetzner.Requests, r => r.Method == "POST");
        Assert.Equal("/v1/servers", request.Path);
        Assert.Equal("cx22", request.Json.GetProperty("server_type").GetString());
        Assert.Equal("ubuntu-24.04", request.Json.GetProperty("image").GetString());
        Assert.Equal("fsn1", request.Json.GetProperty("location").GetString());
        Assert.Equal("#cloud-config\nkey", request.Json.GetProperty("user_data").GetString());
        Assert.Equal("pm_1", request.Json.GetProperty("labels").GetProperty("fleet-pool").GetString());
        Assert.False(server.Running);
        Assert.Matches(@"^198\.51\.100\.\d+$", server.Ipv4);
        Assert.Contains(long.Parse(server.Id, System.Globalization.CultureInfo.InvariantCulture), _hetzner.ServerIds);
    }

    [Fact]
    public async Task A_server_is_running_once_hetzner_says_so()
    {
        var created = await _provider.CreateServerAsync("s", "", new Dictionary<string, string>(), default);
        Assert.False((await _provider.GetServerAsync(created.Id, default))!.Running);

        _hetzner.BootAll();

        Assert.True((await _provider.GetServerAsync(created.Id, default))!.Running);
    }

    [Fact]
    public async Task A_missing_server_reads_as_gone_and_deleting_it_again_succeeds()
    {
        var created = await _provider.CreateServerAsync("s", "", new Dictionary<string, string>(), default);
        await _provider.DeleteServerAsync(created.Id, default);

        Assert.Null(await _provider.GetServerAsync(created.Id, default));
        await _provider.DeleteServerAsync(created.Id, default);
        Assert.DoesNotContain(long.Parse(created.Id, System.Globalization.CultureInfo.InvariantCulture), _hetzner.ServerIds);
    }

    [Fact]
    public async Task Snapshot_images_are_created_from_a_server_and_deleted_idempotently()
    {
        var server = await _provider.CreateServerAsync("s", "", new Dictionary<string, string>(), default);

        var image = await _provider.CreateImageAsync(server.Id, "final snapshot", default);

        Assert.Equal((long)(2.5 * 1024 * 1024 * 1024), image.SizeBytes);
        Assert.False(image.Available);
        var request = _hetzner.Requests.Last(r => r.Method == "POST");
        Assert.Equal($"/v1/servers/{server.Id}/actions/create_image", request.Path);
        Assert.Equal("snapshot", request.Json.GetProperty("type").GetString());
        await _provider.DeleteImageAsync(image.Id, default);
        await _provider.DeleteImageAsync(image.Id, default);
    }

    [Fact]
    public async Task A_refused_token_is_a_provider_error_naming_hetzners_code()
    {
        _http.DefaultRequestHeaders.Authorization = new("Bearer", "wrong");

        var error = await Assert.ThrowsAsync<CloudProviderException>(() => _provider.GetServerAsync("1", default));

        Assert.Equal(401, error.StatusCode);
        Assert.Equal("unauthorized", error.Code);
    }

    [Fact]
    public async Task Rate_limits_and_server_faults_surface_as_retryable_http_errors()
    {
        _hetzner.FailNext = (429, "rate_limit_exceeded");
        await Assert.ThrowsAsync<HttpRequestException>(() => _provider.CreateServerAsync("s", "", new Dictionary<string, string>(), default));

        _hetzner.FailNext = (503, "unavailable");
        await Assert.ThrowsAsync<HttpRequestException>(() => _provider.DeleteServerAsync("5", default));
    }

    [Fact]
    public async Task Ids_that_are_not_hetzner_ids_never_reach_the_url()
    {
        await Assert.ThrowsAsync<CloudProviderException>(() => _provider.DeleteServerAsync("../images/1", default));
        Assert.Empty(_hetzner.Requests);
    }
}
