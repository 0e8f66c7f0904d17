using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FleetAspire.Data.Migrations
{
    /// <summary>
    /// Claims at speed (ADR 0019): the epoch fence as one function call — every write transaction's first statement,
    /// and the first of the claim's single batch, which refuses a moved phase before the claim runs — and the pool's
    /// index in the claim's order, built CONCURRENTLY (outside a transaction, idempotent like
    /// <see cref="Expand_IndexMachineRelations"/>) so writers never wait.
    /// </summary>
    public partial class Expand_WriteFenceAndPoolIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(MachineTransitionSql.WriteFenceFunction);
            migrationBuilder.Sql("SET lock_timeout = '2s';", suppressTransaction: true);
            migrationBuilder.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_machines_pool_ready;", suppressTransaction: true);
            migrationBuilder.Sql(
                "CREATE INDEX CONCURRENTLY ix_machines_pool_ready ON machines (created_at, id) WHERE type = 'hetzner' AND status = 'ready';",
                suppressTransaction: true);
            migrationBuilder.Sql("RESET lock_timeout;", suppressTransaction: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_machines_pool_ready;", suppressTransaction: true);
            migrationBuilder.Sql(MachineTransitionSql.DropWriteFenceFunction);
        }
    }
}
