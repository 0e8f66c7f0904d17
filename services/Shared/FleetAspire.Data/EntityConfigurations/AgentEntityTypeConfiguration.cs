using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FleetAspire.Data.EntityConfigurations;

internal sealed class AgentEntityTypeConfiguration : IEntityTypeConfiguration<Agent>
{
    public void Configure(EntityTypeBuilder<Agent> builder)
    {
        builder.ToTable("agents");
        builder.HasKey(a => a.Id);
        builder.Property(a => a.Id).HasMaxLength(64);
        builder.Property(a => a.Name).HasMaxLength(Limits.NameLength);
        builder.Property(a => a.UserId).HasMaxLength(Limits.UserIdLength);
        builder.Property(a => a.Status).HasMaxLength(32);
        builder.Property(a => a.MachineId).HasMaxLength(64);
        builder.Property(a => a.MachineIpv4).HasMaxLength(15);
        builder.Property(a => a.MachineSharedKey).HasMaxLength(Limits.SharedKeyLength);
        builder.Property(a => a.MachineType).HasMaxLength(16);

        // Owner listing pages by (user_id, id); the type filter and machine lookups have their own.
        builder.HasIndex(a => new { a.UserId, a.Id });
        builder.HasIndex(a => a.MachineType);
        builder.HasIndex(a => a.MachineId);
    }
}
