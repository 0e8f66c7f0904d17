using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FleetAspire.Data.EntityConfigurations;

internal sealed class CustomMachineEntityTypeConfiguration : IEntityTypeConfiguration<CustomMachine>
{
    public void Configure(EntityTypeBuilder<CustomMachine> builder)
    {
        builder.ToTable("custom_machines");
        builder.HasKey(c => c.Id);
        builder.Property(c => c.Id).HasMaxLength(64);
        builder.Property(c => c.Ipv4).HasMaxLength(15);
        builder.Property(c => c.Port).HasDefaultValue(CustomMachine.DefaultPort);
        builder.Property(c => c.SharedKey).HasMaxLength(Limits.SharedKeyLength);
        builder.Property(c => c.UserId).HasMaxLength(Limits.UserIdLength);
        builder.Property(c => c.CurrentAgentId).HasMaxLength(64);
        builder.Property(c => c.Os).HasMaxLength(64);
        builder.Property(c => c.Arch).HasMaxLength(32);
        // One registration per (owner, address); one machine per agent.
        builder.HasIndex(c => new { c.UserId, c.Ipv4, c.Port }).IsUnique();
        builder.HasIndex(c => c.CurrentAgentId).IsUnique();
    }
}
