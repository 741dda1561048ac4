/** Every GraphQL document the page sends, typed by codegen from ../schema/schema.graphql. */
import { graphql } from "../gql";

export const DatasetsQuery = graphql(`
  query Datasets($after: String) {
    datasets(first: 50, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          id
          name
          modelRuns { id name model { name } evaluation { version status isStale completedAt } }
        }
      }
    }
  }
`);

export const RunHeaderQuery = graphql(`
  query RunHeader($run: ID!) {
    modelRun(id: $run) {
      id
      name
      model { id name }
      dataset {
        id
        name
        labels
        slices { id name filter referenceIds }
        items(first: 50) { edges { node { metadata } } }
      }
      evaluation { id version status isStale createdAt completedAt error }
      jobs { id status progress message }
    }
  }
`);

export const SummaryQuery = graphql(`
  query Summary($run: ID!, $slice: ID, $filter: ItemFilter) {
    modelRun(id: $run) {
      metrics(sliceId: $slice, filter: $filter) {
        itemCount
        groundTruthCount
        predictionCount
        coco { ap ap50 ap75 apSmall apMedium apLarge ar1 ar10 ar100 arSmall arMedium arLarge }
      }
    }
  }
`);

export const ThresholdQuery = graphql(`
  query Threshold($run: ID!, $slice: ID, $filter: ItemFilter, $iou: Float!, $confidence: Float!) {
    modelRun(id: $run) {
      metrics(sliceId: $slice, filter: $filter, iouThreshold: $iou, confidenceThreshold: $confidence) {
        perLabel { label ap ap50 ar precision recall f1 truePositives falsePositives falseNegatives }
        confusionMatrix { labels counts }
      }
    }
  }
`);

export const CurveQuery = graphql(`
  query Curve($run: ID!, $slice: ID, $filter: ItemFilter, $iou: Float!, $label: String) {
    modelRun(id: $run) {
      metrics(sliceId: $slice, filter: $filter, iouThreshold: $iou) {
        precisionRecallCurve(label: $label) { recall precision confidence }
      }
    }
  }
`);

export const CustomMetricsQuery = graphql(`
  query CustomMetrics($run: ID!, $slice: ID, $filter: ItemFilter) {
    modelRun(id: $run) {
      customMetrics(sliceId: $slice, filter: $filter) {
        name
        aggregation
        source
        value
        count
        confusion { tp fp tn fn precision recall f1 }
      }
    }
  }
`);

export const GeometryFields = graphql(`
  fragment GeometryFields on Geometry {
    __typename
    ... on Box { x y width height rotation }
    ... on Polygon { vertices { x y } holes { x y } }
    ... on Polyline { vertices { x y } }
    ... on Keypoints { points { x y visibility } skeleton }
    ... on Segmentation { rle { counts size } polygons { vertices { x y } holes { x y } } }
    ... on Cuboid { yaw }
  }
`);

export const ItemGeometriesQuery = graphql(`
  query ItemGeometries($run: ID!, $ids: [String!]!, $dataset: ID!) {
    dataset(id: $dataset) {
      items(filter: { referenceIds: $ids }, first: 48) {
        edges {
          node {
            id
            referenceId
            url
            width
            height
            annotations { id label geometry { ...GeometryFields } }
            predictions(modelRunId: $run) { id label confidence geometry { ...GeometryFields } }
          }
        }
      }
    }
  }
`);

export const FalsePositivesQuery = graphql(`
  query Positives($run: ID!, $filter: PredictionFilter, $order: PredictionOrder, $iou: Float!, $after: String) {
    modelRun(id: $run) {
      predictions(filter: $filter, orderBy: $order, iouThreshold: $iou, first: 48, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { node { id label confidence iou matchedAnnotation { id label } item { id referenceId } } }
      }
    }
  }
`);

export const FalseNegativesQuery = graphql(`
  query Misses($run: ID!, $filter: ItemFilter, $iou: Float!, $labels: [String!], $after: String) {
    modelRun(id: $run) {
      falseNegatives(filter: $filter, iouThreshold: $iou, labels: $labels, first: 48, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { node { id label item { id referenceId } } }
      }
    }
  }
`);

export const CellPredictionsQuery = graphql(`
  query CellPredictions($run: ID!, $slice: ID, $filter: ItemFilter, $iou: Float!, $confidence: Float!,
                        $gt: String, $pred: String!, $after: String) {
    modelRun(id: $run) {
      confusionPredictions(groundTruthLabel: $gt, predictionLabel: $pred, sliceId: $slice, filter: $filter,
                           iouThreshold: $iou, confidenceThreshold: $confidence, first: 100, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { node { id annotationId label confidence iou item { referenceId } } }
      }
    }
  }
`);

export const CellMissesQuery = graphql(`
  query CellMisses($run: ID!, $slice: ID, $filter: ItemFilter, $iou: Float!, $confidence: Float!,
                   $gt: String!, $after: String) {
    modelRun(id: $run) {
      confusionMisses(groundTruthLabel: $gt, sliceId: $slice, filter: $filter, iouThreshold: $iou,
                      confidenceThreshold: $confidence, first: 100, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { node { id annotationId label item { referenceId } } }
      }
    }
  }
`);

export const EvaluateMutation = graphql(`
  mutation Evaluate($run: ID!) {
    calculateEvaluationMetrics(modelRunId: $run) {
      __typename
      ... on Job { id status progress message }
      ... on Error { errorMessage: message }
    }
  }
`);

export const JobSubscription = graphql(`
  subscription JobProgress($id: ID!) {
    job(id: $id) { id status progress message error }
  }
`);

export const CreateSliceMutation = graphql(`
  mutation CreateSlice($input: CreateSliceInput!) {
    createSlice(input: $input) {
      __typename
      ... on Slice { id name filter referenceIds }
      ... on Error { message }
      ... on InvalidInputError { issues { path message } }
    }
  }
`);

export const ViewerQuery = graphql(`
  query Viewer {
    viewer { name scope authenticated }
  }
`);

export const CompareHeaderQuery = graphql(`
  query CompareHeader($run: ID!) {
    modelRun(id: $run) {
      id
      name
      model { name }
      dataset {
        id
        name
        labels
        slices { id name }
        modelRuns { id name model { name } evaluation { status isStale } }
      }
    }
  }
`);

export const DeltaFields = graphql(`
  fragment DeltaFields on Delta { baseline candidate delta low high pValue }
`);

export const CompareQuery = graphql(`
  query Compare($runs: [ID!]!, $baseline: ID, $slice: ID, $iou: Float!, $confidence: Float!, $resamples: Int!) {
    compareRuns(runIds: $runs, baselineId: $baseline, sliceId: $slice, iouThreshold: $iou,
                confidenceThreshold: $confidence, resamples: $resamples) {
      baseline { id name }
      isStale
      staleRuns { id name }
      resamples
      level
      candidates {
        run { id name }
        overall {
          ap { ...DeltaFields } ap50 { ...DeltaFields } ap75 { ...DeltaFields }
          precision { ...DeltaFields } recall { ...DeltaFields } f1 { ...DeltaFields }
        }
        transitions { fixed broken stillMissed stillFound newFalsePositives removedFalsePositives }
        perLabel {
          label
          ap { ...DeltaFields } ap50 { ...DeltaFields } ap75 { ...DeltaFields }
          precision { ...DeltaFields } recall { ...DeltaFields } f1 { ...DeltaFields }
          transitions { fixed broken }
        }
      }
    }
  }
`);

export const ComparedObjectsQuery = graphql(`
  query ComparedObjects($runs: [ID!]!, $baseline: ID, $slice: ID, $iou: Float!, $confidence: Float!,
                        $kind: TransitionKind!, $label: String, $after: String) {
    compareRuns(runIds: $runs, baselineId: $baseline, sliceId: $slice, iouThreshold: $iou,
                confidenceThreshold: $confidence, resamples: 1) {
      candidates {
        run { id }
        objects(kind: $kind, label: $label, first: 48, after: $after) {
          totalCount
          pageInfo { hasNextPage endCursor }
          edges {
            node {
              kind
              label
              item { referenceId }
              groundTruth { id }
              prediction { id }
              baselineMatch { id }
              candidateMatch { id }
            }
          }
        }
      }
    }
  }
`);

export const ComparedItemsQuery = graphql(`
  query ComparedItems($run: ID!, $ids: [String!]!, $dataset: ID!) {
    dataset(id: $dataset) {
      items(filter: { referenceIds: $ids }, first: 48) {
        edges {
          node {
            id
            referenceId
            url
            width
            height
            annotations { id label geometry { ...GeometryFields } }
            predictions(modelRunId: $run) { id label confidence geometry { ...GeometryFields } }
          }
        }
      }
    }
  }
`);
