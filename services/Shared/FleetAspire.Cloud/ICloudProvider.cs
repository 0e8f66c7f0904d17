namespace FleetAspire.Cloud;

/// <summary>
/// What the fleet needs from a cloud: servers for the pool, images for snapshots. Implemented by the Hetzner Cloud
/// client (when a token is configured) and by a simulator (the default).
/// </summary>
public interface ICloudProvider
{
    string Name { get; }

    /// <param name="name">Server name, unique per project at the provider.</param>
    /// <param name="userData">cloud-init user data; carries the machine's sharedKey to the server and nowhere else.</param>
    /// <param name="labels">Labels that let an operator find the server from its pool row.</param>
    Task<CloudServer> CreateServerAsync(string name, string userData, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken);

    /// <summary>Null when the provider no longer knows the server.</summary>
    Task<CloudServer?> GetServerAsync(string serverId, CancellationToken cancellationToken);

    /// <summary>Idempotent: deleting a server that is already gone succeeds.</summary>
    Task DeleteServerAsync(string serverId, CancellationToken cancellationToken);

    Task<CloudImage> CreateImageAsync(string serverId, string description, CancellationToken cancellationToken);

    /// <summary>Idempotent: deleting an image that is already gone succeeds.</summary>
    Task DeleteImageAsync(string imageId, CancellationToken cancellationToken);
}
