namespace FleetAspire.Data.Reads;

/// <summary>The entity names <see cref="IReads{TReads}.ServedAsync"/> takes.</summary>
public static class ServedEntities
{
    public const string Machines = "machines";
    public const string Agents = "agents";
    public const string Snapshots = "machine_snapshots";
    public const string HealthChecks = "machine_health_checks";
}
