using FleetAspire.Data.Entities;
using FleetAspire.Data.EntityConfigurations;
using FleetAspire.Data.Outbox;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Data;

/// <summary>
/// The one fleet database all services share (docs/adr/0001).
/// </summary>
/// <remarks>
/// Add a migration from the repository root with:
/// <c>dotnet build services/Shared/FleetAspire.Data &amp;&amp; dotnet ef migrations add &lt;Name&gt; --project services/Shared/FleetAspire.Data --output-dir Migrations</c>
/// Migrations are applied by the migrator resource, never by the services.
/// </remarks>
public partial class FleetDbContext(DbContextOptions<FleetDbContext> options) : DbContext(options)
{
    public DbSet<Agent> Agents => Set<Agent>();
    public DbSet<Machine> Machines => Set<Machine>();
    public DbSet<MachineHealthCheck> MachineHealthChecks => Set<MachineHealthCheck>();
    public DbSet<MachineSnapshot> MachineSnapshots => Set<MachineSnapshot>();
    public DbSet<PoolSettings> PoolSettings => Set<PoolSettings>();
    public DbSet<OutboxMessage> OutboxMessages => Set<OutboxMessage>();
    public DbSet<HeartbeatClock> HeartbeatClocks => Set<HeartbeatClock>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfiguration(new AgentEntityTypeConfiguration());
        modelBuilder.ApplyConfiguration(new MachineEntityTypeConfiguration());
        modelBuilder.ApplyConfiguration(new MachineSnapshotEntityTypeConfiguration());
        modelBuilder.ApplyConfiguration(new MachineHealthCheckEntityTypeConfiguration());
        modelBuilder.ApplyConfiguration(new PoolSettingsEntityTypeConfiguration());
        modelBuilder.ApplyConfiguration(new OutboxMessageEntityTypeConfiguration());
        modelBuilder.ApplyConfiguration(new HeartbeatClockEntityTypeConfiguration());
        OnModelCreatingTransition(modelBuilder);
    }

    /// <summary>Maps the legacy half of the model while the migration runs (MachineTransition/).</summary>
    partial void OnModelCreatingTransition(ModelBuilder modelBuilder);

    /// <summary>The column of <see cref="Agent.MachineRef"/> in the steady state.</summary>
    public const string AgentRelationColumn = "machine_id";

    /// <summary>
    /// The column this context maps <see cref="Agent.MachineRef"/> to, for the few statements written in SQL: the
    /// steady state's, or the expand phase's name while the migration runs.
    /// </summary>
    public string AgentRelationColumnName() =>
        Model.FindEntityType(typeof(Agent))!.FindProperty(nameof(Agent.MachineRef))!.GetColumnName();

    /// <summary>Provider settings every context shares; the transition adds its model switch (MachineTransition/).</summary>
    internal static void ConfigureOptions(DbContextOptionsBuilder options) => ConfigureTransitionOptions(options);

    static partial void ConfigureTransitionOptions(DbContextOptionsBuilder options);
}
