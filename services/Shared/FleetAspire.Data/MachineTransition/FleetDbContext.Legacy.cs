using FleetAspire.Data.Entities;
using FleetAspire.Data.EntityConfigurations;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Data;

/// <summary>
/// The legacy half of the model: the pool and custom-machine tables and the machine columns other tables still carry.
/// Everything here exists only until the contract; deleting this folder and building shows what still depends on it.
/// </summary>
public partial class FleetDbContext
{
    public DbSet<ParkedMachine> ParkedMachines => Set<ParkedMachine>();
    public DbSet<CustomMachine> CustomMachines => Set<CustomMachine>();

    partial void OnModelCreatingTransition(ModelBuilder modelBuilder)
    {
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
        modelBuilder.Entity<MachineSnapshot>(snapshot =>
        {
            snapshot.Property(s => s.MachineId).HasMaxLength(64);
            snapshot.HasIndex(s => new { s.MachineId, s.CreatedAt });
        });
        modelBuilder.Entity<MachineHealthCheck>(check =>
        {
            check.Property(h => h.MachineId).HasMaxLength(64);
            check.HasIndex(h => new { h.MachineId, h.CheckedAt });
        });
    }
}
