using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FleetAspire.Data.Migrations
{
    /// <summary>The stored phase's flag that tells running instances the contract has renamed the relation column.</summary>
    public partial class Expand_RelationRenameFlag : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("SET LOCAL lock_timeout = '2s';");
            migrationBuilder.Sql(ContractSql.RelationRename);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql(ContractSql.DropRelationRename);
    }
}
