namespace FleetAspire.Names;

/// <summary>
/// Names of the AppHost's resources. The AppHost, the services (connection strings are looked up by these names)
/// and the tests share them, so a rename is one edit.
/// </summary>
public static class ResourceNames
{
    public const string Postgres = "postgres";
    /// <summary>The one fleet database every service shares (docs/adr/0001).</summary>
    public const string FleetDatabase = "fleet";
    public const string RabbitMq = "rabbitmq";
    public const string Epmd = "epmd";
    public const string Migrator = "migrator";
    public const string Agents = "agents";
    public const string Machines = "machines";
    public const string Pool = "pool";
    public const string Snapshots = "snapshots";
    /// <summary>Reserved for the migration control service (port 5105).</summary>
    public const string Migration = "migration";
    /// <summary>The old-version writer: a pre-migration build writing legacy columns only; off until started.</summary>
    public const string OldWriter = "old-writer";
}
