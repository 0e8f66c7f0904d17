using FleetAspire.Data.Entities;
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
public class FleetDbContext(DbContextOptions<FleetDbContext> options) : DbContext(options)
{
    public DbSet<Agent> Agents => Set<Agent>();
    public DbSet<ParkedMachine> ParkedMachines => Set<ParkedMachine>();
    public DbSet<CustomMachine> CustomMachines => Set<CustomMachine>();
    public DbSet<MachineHealthCheck> MachineHealthChecks => Set<MachineHealthCheck>();
    public DbSet<MachineSnapshot> MachineSnapshots => Set<MachineSnapshot>();
    public DbSet<PoolSettings> PoolSettings => Set<PoolSettings>();
    public DbSet<OutboxMessage> OutboxMessages => Set<OutboxMessage>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(FleetDbContext).Assembly);
}
