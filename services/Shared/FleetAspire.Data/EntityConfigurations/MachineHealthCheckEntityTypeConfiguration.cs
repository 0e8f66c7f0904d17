using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FleetAspire.Data.EntityConfigurations;

internal sealed class MachineHealthCheckEntityTypeConfiguration : IEntityTypeConfiguration<MachineHealthCheck>
{
    public void Configure(EntityTypeBuilder<MachineHealthCheck> builder)
    {
        builder.ToTable("machine_health_checks");
        builder.HasKey(h => h.Id);
        builder.Property(h => h.Id).UseIdentityAlwaysColumn();
        builder.Property(h => h.AgentId).HasMaxLength(64);
        builder.Property(h => h.MachineId).HasMaxLength(64);
        builder.HasIndex(h => new { h.MachineId, h.CheckedAt });
        builder.Property(h => h.MachineRef).HasMaxLength(80).IsRequired();
        builder.HasIndex(h => h.MachineRef);
        builder.HasOne<Machine>().WithMany().HasForeignKey(h => h.MachineRef).OnDelete(DeleteBehavior.Cascade);
        builder.Property(h => h.Outcome).HasMaxLength(16);
        // Retention prunes by age.
        builder.HasIndex(h => h.CheckedAt);
    }
}
