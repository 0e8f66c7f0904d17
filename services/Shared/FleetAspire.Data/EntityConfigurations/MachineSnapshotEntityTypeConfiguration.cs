using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FleetAspire.Data.EntityConfigurations;

internal sealed class MachineSnapshotEntityTypeConfiguration : IEntityTypeConfiguration<MachineSnapshot>
{
    public void Configure(EntityTypeBuilder<MachineSnapshot> builder)
    {
        builder.ToTable("machine_snapshots");
        builder.HasKey(s => s.Id);
        builder.Property(s => s.Id).HasMaxLength(64);
        builder.Property(s => s.MachineId).HasMaxLength(64);
        builder.HasIndex(s => new { s.MachineId, s.CreatedAt });
        builder.Property(s => s.MachineRef).HasMaxLength(80).IsRequired();
        builder.HasIndex(s => s.MachineRef);
        builder.HasOne<Machine>().WithMany().HasForeignKey(s => s.MachineRef).OnDelete(DeleteBehavior.Cascade);
        builder.Property(s => s.ProviderImageId).HasMaxLength(64);
        builder.Property(s => s.Status).HasMaxLength(32);
        builder.Property(s => s.UserId).HasMaxLength(Limits.UserIdLength);
        builder.Property(s => s.AgentId).HasMaxLength(64);
        builder.HasIndex(s => new { s.UserId, s.Id });
        // One final snapshot per agent: the deletion flow's consumer relies on it to be idempotent.
        builder.HasIndex(s => s.AgentId).IsUnique().HasFilter("is_final").HasDatabaseName("ux_machine_snapshots_final_per_agent");
    }
}
