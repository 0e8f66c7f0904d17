using FleetAspire.Data.Entities;
using FleetAspire.Data.EntityConfigurations;
using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Data.MachineTransition.Phases;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace FleetAspire.Data;

/// <summary>
/// The legacy half of the model: the pool and custom-machine tables and the machine columns agents still carry.
/// Everything here exists only until the contract; deleting this folder and building shows what still depends on it.
/// </summary>
/// <remarks>
/// The half is mapped only while the phase needs it (<see cref="PhaseRules.MapsLegacy"/>): EF selects every mapped
/// column, so an instance that maps <c>agents.machine_ipv4</c> fails once the contract drops it, whatever code path it
/// runs. From MachineOnly on a new context takes the steady-state model; the soak in MachineOnly proves it.
/// </remarks>
public partial class FleetDbContext
{
    /// <summary>Services that follow the phase are built with this constructor (the phase cache is theirs).</summary>
    public FleetDbContext(DbContextOptions<FleetDbContext> options, PhaseCache phases) : this(options)
    {
        MapsLegacy = !phases.IsLoaded || PhaseRules.MapsLegacy(phases.Current.Phase) || phases.Current.LegacyModel;
        RelationRenamed = phases.IsLoaded && phases.Current.RelationRenamed;
    }

    /// <summary>
    /// Whether this context maps the relation to its steady-state column (<c>agents.machine_id</c>) — from the
    /// contract's rename barrier on — or to the expand phase's <c>machine_ref</c>.
    /// </summary>
    public bool RelationRenamed { get; }

    /// <summary>
    /// Whether this context maps the legacy half; fixed for its lifetime. Contexts built without a phase (migrator,
    /// tools, tests, EF design time) map it: the migrations' model is the whole model.
    /// </summary>
    public bool MapsLegacy { get; } = true;

    /// <summary>The relation's column until the contract renames it to <see cref="AgentRelationColumn"/>.</summary>
    public const string ExpandRelationColumn = "machine_ref";

    public DbSet<ParkedMachine> ParkedMachines => Set<ParkedMachine>();
    public DbSet<CustomMachine> CustomMachines => Set<CustomMachine>();

    static partial void ConfigureTransitionOptions(DbContextOptionsBuilder options) =>
        options.ReplaceService<IModelCacheKeyFactory, TransitionModelCacheKeyFactory>();

    partial void OnModelCreatingTransition(ModelBuilder modelBuilder)
    {
        // Children written before the backfill have no Machine: the relation is optional and unconstrained until the
        // contract's strict-relation steps, as the migrations created it.
        foreach (var child in new[] { typeof(MachineSnapshot), typeof(MachineHealthCheck) })
        {
            var entity = modelBuilder.Entity(child).Metadata;
            var relation = entity.FindProperty(nameof(MachineSnapshot.MachineRef))!;
            foreach (var key in relation.GetContainingForeignKeys().ToList())
            {
                entity.RemoveForeignKey(key);
            }

            relation.IsNullable = true;
        }

        if (!RelationRenamed)
        {
            // The expand phase's names, as the migrations created them.
            modelBuilder.Entity<Agent>(agent =>
            {
                agent.Property(a => a.MachineRef).HasColumnName(ExpandRelationColumn);
                agent.HasIndex(a => a.MachineRef).HasDatabaseName("ix_agents_machine_ref");
            });
            modelBuilder.Entity<Machine>().HasOne(m => m.CurrentAgent).WithOne(a => a.Machine)
                .HasForeignKey<Agent>(a => a.MachineRef).HasConstraintName("fk_agents_machines_machine_ref");
        }

        if (!MapsLegacy)
        {
            // The CLR properties and DbSets still exist in this build; the steady-state model must not see them.
            modelBuilder.Ignore<ParkedMachine>();
            modelBuilder.Ignore<CustomMachine>();
            modelBuilder.Entity<Agent>(agent =>
            {
                agent.Ignore(a => a.MachineId);
                agent.Ignore(a => a.MachineIpv4);
                agent.Ignore(a => a.MachineSharedKey);
                agent.Ignore(a => a.MachineType);
            });
            return;
        }

        modelBuilder.ApplyConfiguration(new ParkedMachineEntityTypeConfiguration());
        modelBuilder.ApplyConfiguration(new CustomMachineEntityTypeConfiguration());

        modelBuilder.Entity<Agent>(agent =>
        {
            agent.Property(a => a.MachineId).HasMaxLength(64);
            agent.Property(a => a.MachineIpv4).HasMaxLength(15);
            agent.Property(a => a.MachineSharedKey).HasMaxLength(Limits.SharedKeyLength);
            agent.Property(a => a.MachineType).HasMaxLength(16);
            agent.HasIndex(a => a.MachineType);
            // Not unique: legacy data can hold two agents with one provider id (a dirty-data class the backfill reports).
            agent.HasIndex(a => a.MachineId).IsUnique(false);
        });
    }

    /// <summary>Keys EF's model cache by which half a context maps, so both models live side by side in one process.</summary>
    private sealed class TransitionModelCacheKeyFactory : IModelCacheKeyFactory
    {
        public object Create(DbContext context, bool designTime) =>
            context is FleetDbContext fleet ? (context.GetType(), fleet.MapsLegacy, fleet.RelationRenamed, designTime) : (context.GetType(), designTime);
    }
}
