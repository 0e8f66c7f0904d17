using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FleetAspire.Data.EntityConfigurations;

internal sealed class ParkedMachineEntityTypeConfiguration : IEntityTypeConfiguration<ParkedMachine>
{
    public void Configure(EntityTypeBuilder<ParkedMachine> builder)
    {
        builder.ToTable("parked_machines");
        builder.HasKey(p => p.Id);
        builder.Property(p => p.Id).HasMaxLength(64);
        builder.Property(p => p.MachineId).HasMaxLength(64);
        builder.Property(p => p.MachineName).HasMaxLength(Limits.NameLength);
        builder.Property(p => p.Ipv4).HasMaxLength(15);
        builder.Property(p => p.Status).HasMaxLength(32);
        builder.Property(p => p.SharedKey).HasMaxLength(Limits.SharedKeyLength);
        // Claims pick the oldest ready machine: this index serves the SKIP LOCKED subquery.
        builder.HasIndex(p => new { p.Status, p.CreatedAt });
        builder.HasIndex(p => p.MachineId).IsUnique();
    }
}
