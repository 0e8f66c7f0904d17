using FleetAspire.Data.Entities;

namespace FleetAspire.Pool.Application;

/// <summary>
/// Write storage of the pool: the hetzner <see cref="Machine"/> rows no agent holds. A reconcile pass is one unit of
/// work (the context's execution strategy).
/// </summary>
public interface IPoolWrites
{
    /// <summary>Pool machines that exist or are being created.</summary>
    Task<int> CountLiveAsync(CancellationToken cancellationToken);

    /// <summary>Launching machines the provider reports running become ready; ones it no longer has are forgotten.</summary>
    Task<int> PromoteBootedAsync(CancellationToken cancellationToken);

    /// <summary>Rows whose create call never returned (the process died mid-call), older than the cutoff.</summary>
    Task<int> RemoveLostAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);

    /// <summary>Creates one server and records it.</summary>
    Task ProvisionOneAsync(CancellationToken cancellationToken);

    /// <summary>Retires the newest surplus machine (launching ones first); false when none is free to retire.</summary>
    Task<bool> RetireOneAsync(CancellationToken cancellationToken);
}
