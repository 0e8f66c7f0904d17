namespace FleetAspire.Pool.Application;

/// <summary>Where the pool service reads the pool: machines not held by any agent.</summary>
public interface IPoolReads
{
    /// <summary>Unassigned pool machines by status (launching, ready).</summary>
    Task<IReadOnlyDictionary<string, int>> CountsAsync(CancellationToken cancellationToken);

    /// <summary>A keyset page by id, one row more than <paramref name="take"/> when another page exists.</summary>
    Task<IReadOnlyList<PoolMachineView>> PageAsync(string? status, string? after, int take, CancellationToken cancellationToken);
}
