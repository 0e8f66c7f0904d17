using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;

namespace FleetAspire.Cloud;

/// <summary>
/// Hetzner Cloud API client (https://docs.hetzner.cloud): servers and snapshot images. The token is sent as a bearer
/// header by the configured HttpClient and never logged.
/// </summary>
public sealed class HetznerCloudProvider(HttpClient http, IOptions<CloudOptions> options) : ICloudProvider
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string Name => "hetzner";

    public async Task<CloudServer> CreateServerAsync(string name, string userData, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        var o = options.Value.Hetzner;
        var request = new CreateServerRequest(name, o.ServerType, o.Image, o.Location, userData, labels, StartAfterCreate: true);
        using var response = await http.PostAsJsonAsync("servers", request, Json, cancellationToken);
        var body = await ReadAsync<ServerEnvelope>(response, cancellationToken);
        return ToServer(body.Server);
    }

    public async Task<CloudServer?> GetServerAsync(string serverId, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"servers/{Id(serverId)}", cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        return ToServer((await ReadAsync<ServerEnvelope>(response, cancellationToken)).Server);
    }

    public async Task DeleteServerAsync(string serverId, CancellationToken cancellationToken)
    {
        using var response = await http.DeleteAsync($"servers/{Id(serverId)}", cancellationToken);
        if (response.StatusCode != HttpStatusCode.NotFound)
        {
            await EnsureSuccessAsync(response, cancellationToken);
        }
    }

    public async Task<CloudImage> CreateImageAsync(string serverId, string description, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync(
            $"servers/{Id(serverId)}/actions/create_image",
            new CreateImageRequest(description, "snapshot"),
            Json,
            cancellationToken);
        var image = (await ReadAsync<ImageEnvelope>(response, cancellationToken)).Image;
        var size = image.ImageSize is { } gb ? (long)(gb * 1024 * 1024 * 1024) : (long?)null;
        return new CloudImage(image.Id.ToString(CultureInfo.InvariantCulture), size, image.Status == "available");
    }

    public async Task DeleteImageAsync(string imageId, CancellationToken cancellationToken)
    {
        using var response = await http.DeleteAsync($"images/{Id(imageId)}", cancellationToken);
        if (response.StatusCode != HttpStatusCode.NotFound)
        {
            await EnsureSuccessAsync(response, cancellationToken);
        }
    }

    private static CloudServer ToServer(HetznerServer s) =>
        new(s.Id.ToString(CultureInfo.InvariantCulture), s.Name, s.PublicNet?.Ipv4?.Ip, s.Status == "running");

    /// <summary>Hetzner ids are integers; refusing anything else keeps user input out of the URL path.</summary>
    private static string Id(string id) =>
        long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n.ToString(CultureInfo.InvariantCulture)
            : throw new CloudProviderException($"'{id}' is not a Hetzner id.");

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await EnsureSuccessAsync(response, cancellationToken);
        return await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken)
               ?? throw new CloudProviderException("Hetzner returned an empty body.", (int)response.StatusCode);
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        ErrorEnvelope? error = null;
        try
        {
            error = await response.Content.ReadFromJsonAsync<ErrorEnvelope>(Json, cancellationToken);
        }
        catch (JsonException)
        {
            // Not Hetzner's error shape (a proxy, say): the status code says enough.
        }

        var status = (int)response.StatusCode;
        var message = $"Hetzner answered {status} {error?.Error?.Code}: {error?.Error?.Message}";
        // Rate limits and server-side faults are worth retrying; the caller's retry policy sees HttpRequestException.
        if (status is 429 or >= 500)
        {
            throw new HttpRequestException(message, null, response.StatusCode);
        }

        throw new CloudProviderException(message, status, error?.Error?.Code);
    }

    private sealed record CreateServerRequest(
        string Name, string ServerType, string Image, string Location, string UserData,
        IReadOnlyDictionary<string, string> Labels, bool StartAfterCreate);

    private sealed record CreateImageRequest(string Description, string Type);

    private sealed record ServerEnvelope(HetznerServer Server);

    private sealed record HetznerServer(long Id, string Name, string Status, PublicNet? PublicNet);

    private sealed record PublicNet(Ipv4Block? Ipv4);

    private sealed record Ipv4Block(string? Ip);

    private sealed record ImageEnvelope(HetznerImage Image);

    private sealed record HetznerImage(long Id, string Status, double? ImageSize);

    private sealed record ErrorEnvelope(HetznerError? Error);

    private sealed record HetznerError(string Code, string Message);
}
