using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace FleetAspire.Cloud;

/// <summary>
/// The default provider: servers boot after <see cref="SimulatorOptions.ReadyDelay"/>, images are ready at once.
/// State is per process; a server it never created (for example after a restart) is reported as running, so a pool
/// restart does not strand launching machines.
/// </summary>
public sealed class SimulatedCloudProvider(IOptions<CloudOptions> options, TimeProvider time) : ICloudProvider
{
    private readonly ConcurrentDictionary<string, (CloudServer Server, DateTimeOffset ReadyAt)> _servers = new();
    private readonly ConcurrentDictionary<string, string> _deletedServers = new();
    private readonly ConcurrentDictionary<string, string> _images = new();
    private long _nextId = 1_000_000 + Random.Shared.Next(1_000_000);

    public string Name => "simulator";

    public IReadOnlyCollection<string> LiveServerIds => _servers.Keys.ToArray();

    /// <summary>Images that exist at the provider (created and not deleted): what a bill would list.</summary>
    public IReadOnlyCollection<string> LiveImageIds => _images.Keys.ToArray();

    public Task<CloudServer> CreateServerAsync(string name, string userData, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var server = new CloudServer(id, name, Ipv4For(id), Running: options.Value.Simulator.ReadyDelay <= TimeSpan.Zero);
        _servers[id] = (server, time.GetUtcNow() + options.Value.Simulator.ReadyDelay);
        return Task.FromResult(server);
    }

    public Task<CloudServer?> GetServerAsync(string serverId, CancellationToken cancellationToken)
    {
        if (_deletedServers.ContainsKey(serverId))
        {
            return Task.FromResult<CloudServer?>(null);
        }

        return Task.FromResult<CloudServer?>(_servers.TryGetValue(serverId, out var s)
            ? s.Server with { Running = time.GetUtcNow() >= s.ReadyAt }
            : new CloudServer(serverId, $"unknown-{serverId}", Ipv4For(serverId), Running: true));
    }

    public Task DeleteServerAsync(string serverId, CancellationToken cancellationToken)
    {
        _servers.TryRemove(serverId, out _);
        _deletedServers[serverId] = serverId;
        return Task.CompletedTask;
    }

    public async Task<CloudImage> CreateImageAsync(string serverId, string description, CancellationToken cancellationToken)
    {
        // Imaging takes time at a real provider: long enough for requests to overlap with it.
        if (options.Value.Simulator.ImageDelay > TimeSpan.Zero)
        {
            await Task.Delay(options.Value.Simulator.ImageDelay, time, cancellationToken);
        }

        var id = Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        _images[id] = description;
        return new CloudImage(id, 1L << 30, Available: true);
    }

    public Task DeleteImageAsync(string imageId, CancellationToken cancellationToken)
    {
        _images.TryRemove(imageId, out _);
        return Task.CompletedTask;
    }

    /// <summary>Documentation range 203.0.113.0/24 would collide quickly; 10.x gives 16M distinct stable addresses.</summary>
    private static string Ipv4For(string id)
    {
        var n = (uint)(long.Parse(id, System.Globalization.CultureInfo.InvariantCulture) & 0xFFFFFF);
        return $"10.{(n >> 16) & 0xFF}.{(n >> 8) & 0xFF}.{n & 0xFF}";
    }
}
