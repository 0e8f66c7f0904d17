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
        builder.Property(s => s.ProviderImageId).HasMaxLength(64);
        builder.Property(s => s.Status).HasMaxLength(32);
        builder.HasIndex(s => new { s.MachineId, s.CreatedAt });
    }
}
