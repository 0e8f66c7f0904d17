using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FleetAspire.Data.EntityConfigurations;

internal sealed class MachineEntityTypeConfiguration : IEntityTypeConfiguration<Machine>
{
    public void Configure(EntityTypeBuilder<Machine> builder)
    {
        builder.ToTable("machines", t =>
        {
            t.HasCheckConstraint("ck_machines_type", "type IN ('hetzner', 'custom')");
            t.HasCheckConstraint("ck_machines_status", "status IN ('launching', 'ready', 'in_use', 'offline', 'destroyed')");
            t.HasCheckConstraint("ck_machines_port", "port BETWEEN 1 AND 65535");
        });
        builder.HasKey(m => m.Id);
        // A destroyed machine is kept only for the children that name it; no query of the services may see it.
        builder.HasQueryFilter(m => m.Status != MachineStatus.Destroyed);
        builder.Property(m => m.Id).HasMaxLength(80);
        builder.Property(m => m.Type).HasMaxLength(16);
        builder.Property(m => m.HetznerMachineId).HasMaxLength(64);
        builder.Property(m => m.Name).HasMaxLength(Limits.NameLength);
        builder.Property(m => m.Ipv4).HasMaxLength(15);
        builder.Property(m => m.SharedKey).HasMaxLength(Limits.SharedKeyLength);
        builder.Property(m => m.Port).HasDefaultValue(Machine.DefaultPort);
        builder.Property(m => m.Status).HasMaxLength(16).HasDefaultValue(MachineStatus.Offline);
        builder.Property(m => m.UserId).HasMaxLength(Limits.UserIdLength);
        builder.Property(m => m.Os).HasMaxLength(64);
        builder.Property(m => m.Arch).HasMaxLength(32);
        builder.Property(m => m.LastSeenAt).HasDefaultValueSql("now()");
        builder.Property(m => m.CreatedAt).HasDefaultValueSql("now()");
        builder.Property(m => m.LegacyId).HasMaxLength(64);

        builder.HasIndex(m => m.Type);
        builder.HasIndex(m => m.Status);
        builder.HasIndex(m => m.UserId);
        builder.HasIndex(m => new { m.Type, m.LegacyId }).IsUnique();
        // The pool, in the claim's order: the oldest ready hetzner machine is the first entry, so a claim reads one
        // index entry instead of sorting every ready machine.
        builder.HasIndex(m => new { m.CreatedAt, m.Id }).HasFilter("type = 'hetzner' AND status = 'ready'").HasDatabaseName("ix_machines_pool_ready");

        // One column holds the assignment; the unique index makes it one agent per machine.
        builder.HasOne(m => m.CurrentAgent).WithOne(a => a.Machine)
            .HasForeignKey<Agent>(a => a.MachineRef)
            .OnDelete(DeleteBehavior.SetNull);
    }
}
