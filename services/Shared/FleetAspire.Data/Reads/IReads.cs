namespace FleetAspire.Data.Reads;

/// <summary>
/// The read storage a request reads from, and where it reports what it served. The steady state has one storage
/// (Machine) and nobody to report to; while the machine migration runs, each service's selector
/// (<c>MachineTransition/</c>) stands in: it picks the side by phase and compares a sample of what was served with
/// the other side.
/// </summary>
public interface IReads<TReads> where TReads : class
{
    Task<TReads> CurrentAsync();

    /// <param name="entity">What the ids name: <c>machines</c> (by legacy id), <c>agents</c>, <c>machine_snapshots</c>, <c>machine_health_checks</c>.</param>
    Task ServedAsync(string entity, IReadOnlyCollection<string> ids);
}
