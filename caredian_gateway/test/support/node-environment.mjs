// Jest's node environment runs tests in a separate realm; onnxruntime checks tensor data with
// `instanceof Float32Array` against the main realm's constructor, so that one constructor is shared.
import NodeEnvironment from 'jest-environment-node';

const Base = NodeEnvironment.TestEnvironment ?? NodeEnvironment;

export default class SharedFloat32Environment extends Base {
  constructor(config, context) {
    super(config, context);
    this.global.Float32Array = globalThis.Float32Array;
  }
}
