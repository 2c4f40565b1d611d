/** The blog models the Sequelize benches write and cache: authors and their posts. */
import { DataTypes, type Model, type ModelStatic, type Sequelize } from 'sequelize';

export function defineBlog(sequelize: Sequelize): { Author: ModelStatic<Model>; Post: ModelStatic<Model> } {
  const Author: ModelStatic<Model> = sequelize.define('Author', { name: DataTypes.STRING }, { tableName: 'authors' });
  const Post: ModelStatic<Model> = sequelize.define('Post', {
    title: { type: DataTypes.STRING, allowNull: false },
    status: { type: DataTypes.STRING, allowNull: false, defaultValue: 'draft' },
    views: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
  }, { tableName: 'posts' });
  Author.hasMany(Post, { as: 'posts', foreignKey: 'authorId' });
  Post.belongsTo(Author, { as: 'author', foreignKey: 'authorId' });
  return { Author, Post };
}
