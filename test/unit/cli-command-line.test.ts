// What src/cli.ts reads off a command line before the program loads: the command (whose module
// alone is loaded) and the folder `scan` will walk (walked in a thread while the program loads).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandName, scanFolderOf } from '../../src/cli/command_line.js';

describe('the command line, read before the program loads', () => {
  it('names the command after the global options and their values', () => {
    assert.equal(commandName(['tracks', '--json']), 'tracks');
    assert.equal(commandName(['--config', 'scan.json', '--log-format', 'json', 'library', 'stats']), 'library');
    assert.equal(commandName(['--init', 'scan', '/music']), 'scan');
    assert.equal(commandName(['--version']), undefined);
    assert.equal(commandName([]), undefined);
  });

  it('finds the folder `scan` walks with its own worker, and no other', () => {
    assert.equal(scanFolderOf(['scan', '/music']), '/music');
    assert.equal(scanFolderOf(['--config', 'c.json', 'scan', '--full', 'Music', '--json']), 'Music');
    assert.equal(scanFolderOf(['scan', '--no-worker', '/music']), undefined, 'workers elsewhere walk it');
    assert.equal(scanFolderOf(['scan', 'cancel', 'abc']), undefined);
    assert.equal(scanFolderOf(['scan', '--help']), undefined);
    assert.equal(scanFolderOf(['--config', 'scan', 'tracks']), undefined, 'a config file named scan is no command');
    assert.equal(scanFolderOf(['tracks', 'scan']), undefined);
  });
});
