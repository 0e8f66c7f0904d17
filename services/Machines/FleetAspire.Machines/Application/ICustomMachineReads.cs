namespace FleetAspire.Machines.Application;

/// <summary>Where the machines service reads custom machines.</summary>
public interface ICustomMachineReads
{
    Task<CustomMachineView?> FindAsync(string id, string? owner, CancellationToken cancellationToken);

    /// <summary>A keyset page by id, one row more than <paramref name="take"/> when another page exists.</summary>
    Task<IReadOnlyList<CustomMachineView>> PageAsync(string? owner, string? after, int take, CancellationToken cancellationToken);
}
