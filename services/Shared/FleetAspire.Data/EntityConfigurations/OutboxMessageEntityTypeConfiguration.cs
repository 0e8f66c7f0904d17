using FleetAspire.Data.Outbox;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FleetAspire.Data.EntityConfigurations;

internal sealed class OutboxMessageEntityTypeConfiguration : IEntityTypeConfiguration<OutboxMessage>
{
    public void Configure(EntityTypeBuilder<OutboxMessage> builder)
    {
        builder.ToTable("outbox_messages");
        builder.HasKey(o => o.Id);
        builder.Property(o => o.Id).UseIdentityAlwaysColumn();
        builder.Property(o => o.AggregateId).HasMaxLength(64);
        builder.Property(o => o.MessageType).HasMaxLength(256);
        builder.Property(o => o.Payload).HasColumnType("jsonb");
        builder.Property(o => o.TraceParent).HasMaxLength(64);
        builder.Property(o => o.LastError).HasMaxLength(1024);
        builder.HasIndex(o => o.MessageId).IsUnique();
        // The dispatcher scans unsent rows in id order; a partial index keeps that scan small (parked rows left out).
        builder.HasIndex(o => o.Id, "ix_outbox_messages_unsent").HasDatabaseName("ix_outbox_messages_unsent")
            .HasFilter("sent_at IS NULL AND parked_at IS NULL");
        builder.HasIndex(o => o.Id, "ix_outbox_messages_parked").HasDatabaseName("ix_outbox_messages_parked").HasFilter("parked_at IS NOT NULL");
    }
}
