using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FleetAspire.Data.Migrations
{
    /// <summary>
    /// The dual-write function re-created with plans that do not depend on statistics (ADR 0021): index access only, a
    /// type probe that never picks the type index, and the missing-parent query run only for transactions that wrote
    /// a child. Same rows written, same dirty-row judgement.
    /// </summary>
    public partial class Expand_DualWriteIndexPlans : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("SET LOCAL lock_timeout = '2s';");
            migrationBuilder.Sql(DualWriteFunctionSql.Definition);
        }

        /// <inheritdoc />
        /// <remarks>Nothing to undo that matters: the earlier body wrote the same rows, only with other plans.</remarks>
        protected override void Down(MigrationBuilder migrationBuilder)
        {
        }
    }
}
